; Inno Setup 6 script: a per-user installer for presence-agent (no administrator rights).
;
; From the repository root, on Windows:
;   pyinstaller --noconfirm --distpath dist\onedir packaging\presence-agent.spec -- --onedir
;   iscc /DAppVersion=0.1.0 packaging\windows\presence-agent.iss
; gives dist\presence-agent-setup-0.1.0.exe (packaging/windows/build.sh does both).
; See packaging\README.md and docs\rollout.md.
;
; Silent install, for deployment tools (Intune, SCCM, PDQ, a login script):
;   presence-agent-setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
;       [/CURRENTUSER | /ALLUSERS] [/SERVER=desk.example.com] [/LOCK=server,away_after]
;       [/TASKS="!startatlogin"]
; /SERVER= presets the Libredesk server (a bare host means https://) through
; `presence-agent preset`: for every user (C:\ProgramData\presence-agent\config.toml)
; with /ALLUSERS (administrator), else in the installing user's own config. /LOCK=
; (all-users installs only) lists keys users cannot change.
;
; "Start at login" writes the same Run value that `presence-agent autostart enable`
; writes (presence_agent\autostart\_windows.py), so the installer, the tray menu and
; the CLI all see and change one setting.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
; The project's identity (presence_agent/__init__.py). packaging/windows/build.sh passes
; both from there; these defaults are for a bare `iscc` (tests/test_identity.py keeps them equal).
#ifndef AppPublisherName
  #define AppPublisherName "presence-agent maintainers"
#endif
#ifndef AppURL
  #define AppURL "https://github.com/presence-agent/presence-agent"
#endif
#define AppName "Presence Agent"
#define AppExe "presence-agent.exe"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define ApprovedKey "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"

[Setup]
; The AppId identifies the app for upgrades and uninstall; never change it.
AppId={{92DB9D86-2A99-4930-B31F-88989411ECB1}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisherName}
AppPublisherURL={#AppURL}
AppSupportURL={#AppURL}/issues
AppUpdatesURL={#AppURL}/releases
; Per user: installs into %LOCALAPPDATA%\Programs and writes only HKCU, so an
; agent can install and update it without IT.
PrivilegesRequired=lowest
; /ALLUSERS on the command line installs for everyone (an administrator's rollout).
PrivilegesRequiredOverridesAllowed=commandline
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
DisableDirPage=auto
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=presence-agent-setup-{#AppVersion}
SetupIconFile=..\..\assets\presence-agent.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
; Closes a running copy (it holds its files open) before upgrading or uninstalling.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "startatlogin"; Description: "Start {#AppName} when I sign in to Windows"; GroupDescription: "Start-up:"

[Files]
Source: "..\..\dist\onedir\presence-agent\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Parameters: "run"; Comment: "Keeps your Libredesk availability true to whether you are at your desk"

[Registry]
; Start at login, quoted because the path usually has spaces.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "presence-agent"; ValueData: """{app}\{#AppExe}"" run"; Tasks: startatlogin
; Clear a "turned off in Task Manager" mark, as `autostart enable` does.
Root: HKCU; Subkey: "{#ApprovedKey}"; ValueType: none; ValueName: "presence-agent"; Flags: deletevalue; Tasks: startatlogin
; Whoever created them (this installer or the app's own "Start at login"),
; these values must not outlive the app.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: none; ValueName: "presence-agent"; Flags: uninsdeletevalue
Root: HKCU; Subkey: "{#ApprovedKey}"; ValueType: none; ValueName: "presence-agent"; Flags: uninsdeletevalue

[Run]
; /SERVER= (and /LOCK=): the preset, written and checked by the app itself (the same URL
; rules as `presence-agent login`), before the app first starts.
Filename: "{app}\{#AppExe}"; Parameters: "preset {code:PresetArgs}"; Flags: runhidden waituntilterminated; Check: HasPreset; StatusMsg: "Setting your Libredesk server..."
Filename: "{app}\{#AppExe}"; Parameters: "run"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[Code]
function PresetServer(): String;
begin
  Result := Trim(ExpandConstant('{param:SERVER|}'));
end;

function HasPreset(): Boolean;
begin
  Result := PresetServer() <> '';
end;

{ One Windows command-line argument; the values here never hold a double quote. }
function Quoted(const Value: String): String;
begin
  Result := '"' + Value + '"';
end;

function PresetArgs(Param: String): String;
var
  Locks, Key: String;
  Comma: Integer;
begin
  Result := '--server ' + Quoted(PresetServer());
  if IsAdminInstallMode then
  begin
    Locks := ExpandConstant('{param:LOCK|}');
    while Locks <> '' do
    begin
      Comma := Pos(',', Locks);
      if Comma = 0 then
      begin
        Key := Trim(Locks);
        Locks := '';
      end
      else
      begin
        Key := Trim(Copy(Locks, 1, Comma - 1));
        Locks := Copy(Locks, Comma + 1, Length(Locks));
      end;
      if Key <> '' then
        Result := Result + ' --lock ' + Quoted(Key);
    end;
  end
  else
    Result := Result + ' --user';
end;

function InitializeSetup(): Boolean;
begin
  Result := True;
  if (Pos('"', PresetServer()) > 0) or (Pos('"', ExpandConstant('{param:LOCK|}')) > 0) then
  begin
    SuppressibleMsgBox('/SERVER= and /LOCK= cannot contain a double quote.', mbError, MB_OK, IDOK);
    Result := False;
  end;
end;
