import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const convertFileSrc = vi.fn((path: string, protocol: string) => `${protocol}://localhost/${encodeURIComponent(path)}`);
type Listener = (e: { payload: unknown }) => void;
const listeners = new Map<string, Listener>();
const unlisten = vi.fn();
let resolveListen: (() => void) | null = null;

vi.mock('@tauri-apps/api/core', () => ({
  invoke: (cmd: string, args?: unknown) => invoke(cmd, args) as Promise<unknown>,
  convertFileSrc: (p: string, proto: string) => convertFileSrc(p, proto),
}));
const openDialog = vi.fn();
vi.mock('@tauri-apps/plugin-dialog', () => ({
  open: (options: unknown) => openDialog(options) as Promise<unknown>,
}));
vi.mock('@tauri-apps/api/event', () => ({
  listen: (event: string, handler: Listener) =>
    new Promise((resolve) => {
      listeners.set(event, handler);
      resolveListen = () => resolve(unlisten);
    }),
}));

const { TauriBackend } = await import('./tauri');
const { ApiError } = await import('./backend');
const { inTauri } = await import('./index');
const { folderPicker, registerFolderPicker } = await import('../folder-picker');

beforeEach(() => {
  invoke.mockReset();
  openDialog.mockReset();
  unlisten.mockReset();
  listeners.clear();
});

describe('Tauri backend', () => {
  it('invokes the shell\'s one call command with the command and its arguments', async () => {
    invoke.mockResolvedValue([1, 2]);
    await expect(new TauriBackend().call('annotations', { image: 3 })).resolves.toEqual([1, 2]);
    expect(invoke).toHaveBeenCalledWith('call', { command: 'annotations', args: { image: 3 } });
    invoke.mockResolvedValue({});
    await new TauriBackend().call('status');
    expect(invoke).toHaveBeenLastCalledWith('call', { command: 'status', args: {} });
  });

  it('rejects with ApiError from the serialised error', async () => {
    invoke.mockRejectedValue({ code: 'not_found', message: 'image 3: no such image' });
    const err = await new TauriBackend().call('annotations', { image: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'not_found', message: 'image 3: no such image' });
  });

  it('wraps a plain string rejection (a shell-side failure) as internal', async () => {
    invoke.mockRejectedValue('command annotations not found');
    await expect(new TauriBackend().call('annotations')).rejects.toMatchObject({ code: 'internal', message: 'command annotations not found' });
  });

  it('builds media URLs through the lacuna protocol', () => {
    const b = new TauriBackend();
    expect(b.imageUrl(42)).toBe('lacuna://localhost/image%2F42');
    expect(b.thumbUrl(42)).toBe('lacuna://localhost/thumb%2F42');
    expect(convertFileSrc).toHaveBeenCalledWith('image/42', 'lacuna');
  });

  it('delivers event payloads and unsubscribes, even before listen resolved', async () => {
    const b = new TauriBackend();
    const handler = vi.fn();
    const off = b.subscribe('labels_changed', handler);
    expect([...listeners.keys()]).toEqual(['lacuna://labels_changed']);
    listeners.get('lacuna://labels_changed')?.({ payload: { image: 1 } });
    expect(handler).toHaveBeenCalledWith({ image: 1 });
    off();
    listeners.get('lacuna://labels_changed')?.({ payload: { image: 2 } });
    expect(handler).toHaveBeenCalledOnce();
    resolveListen?.();
    await Promise.resolve();
    await Promise.resolve();
    expect(unlisten).toHaveBeenCalledOnce();
  });

  it('picks one folder or several through the native dialog, null or empty when cancelled', async () => {
    const b = new TauriBackend();
    openDialog.mockResolvedValue('/data/project');
    await expect(b.pickFolder({ title: 'Open project', defaultPath: '/data' })).resolves.toBe('/data/project');
    expect(openDialog).toHaveBeenLastCalledWith({ directory: true, multiple: false, title: 'Open project', defaultPath: '/data' });
    openDialog.mockResolvedValue(null);
    await expect(b.pickFolder({ title: 'Open project' })).resolves.toBeNull();
    openDialog.mockResolvedValue(['/a', '/b']);
    await expect(b.pickFolders({ title: 'Import' })).resolves.toEqual(['/a', '/b']);
    expect(openDialog).toHaveBeenLastCalledWith({ directory: true, multiple: true, recursive: true, title: 'Import' });
    openDialog.mockResolvedValue(null);
    await expect(b.pickFolders({ title: 'Import' })).resolves.toEqual([]);
  });

  it('registers the native dialog as the views\' folder picker', async () => {
    registerFolderPicker(null);
    new TauriBackend();
    const picker = folderPicker();
    expect(picker).not.toBeNull();
    openDialog.mockResolvedValue('/data/export');
    await expect(picker?.({ title: 'Export to' })).resolves.toBe('/data/export');
    expect(openDialog).toHaveBeenLastCalledWith({ directory: true, multiple: false, title: 'Export to' });
  });

  it('is chosen when the shell injected its internals', () => {
    expect(inTauri({ __TAURI_INTERNALS__: {} })).toBe(true);
    expect(inTauri({})).toBe(false);
  });
});
