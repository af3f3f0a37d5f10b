import type { RunningEmulator } from '../emulator/server.js';

/**
 * What a newcomer sees after `npm start`: a few folders and files in the emulator's demo drive,
 * so the first PROPFIND or browser visit shows something. Only an empty drive is seeded.
 */
export async function seedDemoDrive(emulator: RunningEmulator, upn: string): Promise<void> {
  const driveId = emulator.drive.driveIdOf(upn);
  if (emulator.drive.listPaths(driveId).length > 0) return;
  emulator.drive.mkdir(driveId, 'Documents');
  emulator.drive.mkdir(driveId, 'Pictures');
  await emulator.drive.putFile(
    driveId,
    'Welcome to onedav.txt',
    [
      'This drive lives in the built-in Microsoft Graph emulator, in memory.',
      'Everything you copy here through WebDAV goes through the same Graph calls onedav makes',
      'against a real OneDrive: upload sessions, download URLs, delta. Nothing leaves this machine.',
      '',
      'To serve your own OneDrive, register an app and run `onedav login` (see README.md).',
      '',
    ].join('\n'),
  );
  await emulator.drive.putFile(driveId, 'Documents/Notes.md', '# Notes\n\n- mount me in your file manager\n- or `rclone lsf --webdav-url http://127.0.0.1:8080/ --webdav-vendor other :webdav:`\n');
}
