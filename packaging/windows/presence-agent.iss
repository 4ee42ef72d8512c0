; Inno Setup 6 script: a per-user installer for presence-agent (no administrator rights).
;
; From the repository root, on Windows:
;   pyinstaller --noconfirm --distpath dist\onedir packaging\presence-agent.spec -- --onedir
;   iscc /DAppVersion=0.1.0 packaging\windows\presence-agent.iss
; gives dist\presence-agent-setup-0.1.0.exe. See packaging\README.md.
;
; "Start at login" writes the same Run value that `presence-agent autostart enable`
; writes (presence_agent\autostart\_windows.py), so the installer, the tray menu and
; the CLI all see and change one setting.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
; The project's identity (presence_agent/__init__.py; tests/test_identity.py keeps these equal).
#define AppPublisherName "presence-agent maintainers"
#define AppURL "https://github.com/presence-agent/presence-agent"
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
Filename: "{app}\{#AppExe}"; Parameters: "run"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent
