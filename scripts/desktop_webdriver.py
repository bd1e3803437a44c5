#!/usr/bin/env python3
"""Drives the real Lacuna desktop window through tauri-driver (W3C WebDriver over HTTP,
standard library only) and checks that the shell transports:

1. the app shell renders (the UI mounted into #app);
2. a command round trip: `call('status')` over Tauri IPC answers the project's image count,
   and a Tauri command the capability does not grant is refused;
3. events: `lacuna://project_opened` reaches the webview after `call('project_open')`;
4. the native folder dialog is offered to the views (a Browse button in the Projects view);
5. media: a thumbnail and an original load through the `lacuna` scheme (naturalWidth > 0),
   an unknown id does not; any `lacuna:` <img> the UI itself shows has loaded;
6. a screenshot of the window.

Used by scripts/test-desktop.sh. Exits 1 with a message naming the failed check.

Run: desktop_webdriver.py --driver http://127.0.0.1:4444 --app target/debug/lacuna-desktop \
       --project DIR --images N --screenshot target/test-artifacts/desktop.png
"""
import argparse
import base64
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request


class CheckFailed(Exception):
    pass


class WebDriver:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.session = None

    def request(self, method, path, body=None, timeout=60):
        # tauri-driver now and then drops a request when its kept-alive connection to
        # WebKitWebDriver was reset (it answers nothing, and the app is fine): such a request
        # is sent again, twice at most. Every request here may safely run twice.
        for attempt in range(3):
            try:
                return self.send(method, path, body, timeout)
            except (http.client.RemoteDisconnected, ConnectionResetError) as e:
                if attempt == 2 or path == "/session":
                    raise CheckFailed(f"WebDriver {method} {path}: no answer ({e!r}); did the app crash?") from None
                print(f"desktop: note {method} {path}: no answer ({e!r}), sending it again", file=sys.stderr)
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def send(self, method, path, body, timeout):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return json.loads(res.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise CheckFailed(f"WebDriver {method} {path} answered {e.code}: {detail[:2000]}") from None
        except (http.client.RemoteDisconnected, ConnectionResetError):
            raise
        except urllib.error.URLError as e:
            if isinstance(e.reason, ConnectionResetError):
                raise e.reason from None
            raise CheckFailed(f"WebDriver {method} {path}: no answer ({e!r}); did the app crash?") from None
        except (http.client.HTTPException, OSError) as e:
            # The driver, or the app under it, went away (crashed?): see tauri-driver's log.
            raise CheckFailed(f"WebDriver {method} {path}: no answer ({e!r}); did the app crash?") from None

    def wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(self.base + "/status", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise CheckFailed(f"tauri-driver did not answer on {self.base} within {seconds} s") from None
                time.sleep(0.25)

    def start(self, app, args):
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app, "args": args}}}}
        value = self.request("POST", "/session", caps, timeout=120)
        self.session = value["sessionId"]

    def stop(self):
        if self.session:
            try:
                self.request("DELETE", f"/session/{self.session}", timeout=30)
            except (CheckFailed, OSError) as e:
                print(f"desktop: warning: closing the session: {e}", file=sys.stderr)
            self.session = None

    def run(self, script, *args):
        return self.request("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def run_async(self, script, *args):
        """`script` gets its arguments and, last, `done` to call with the result."""
        return self.request("POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)})

    def screenshot(self):
        return base64.b64decode(self.request("GET", f"/session/{self.session}/screenshot"))


def wait_for(what, probe, seconds=30, interval=0.25):
    """Calls `probe` until it returns something truthy; fails with the last value seen."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise CheckFailed(f"timed out after {seconds} s waiting for {what}; last saw: {last!r}")


# Calls the shell's `call` command the way the UI's TauriBackend does.
CALL = """
const [command, args, done] = arguments;
window.__TAURI_INTERNALS__.invoke('call', { command, args })
  .then((value) => done({ value }), (error) => done({ error }));
"""

# Listens to one Tauri event (as @tauri-apps/api's `listen` does), then runs a command and
# answers the first payload that arrives (or a timeout).
EVENT_AFTER_CALL = """
const [event, command, args, done] = arguments;
const tauri = window.__TAURI_INTERNALS__;
const timer = setTimeout(() => done({ error: 'no ' + event + ' event within 10 s' }), 10000);
const handler = tauri.transformCallback((e) => { clearTimeout(timer); done({ payload: e.payload }); }, true);
tauri.invoke('plugin:event|listen', { event, target: { kind: 'Any' }, handler })
  .then(() => tauri.invoke('call', { command, args }))
  .catch((error) => { clearTimeout(timer); done({ error }); });
"""

# Loads a media URL (made as the UI makes them) into an <img> outside the document.
LOAD_IMAGE = """
const [path, done] = arguments;
const url = window.__TAURI_INTERNALS__.convertFileSrc(path, 'lacuna');
const img = new Image();
img.onload = () => done({ url, width: img.naturalWidth, height: img.naturalHeight });
img.onerror = () => done({ url, error: 'failed to load' });
img.src = url;
"""

# Opens the Projects view, looks for a Browse button, and goes back to the view shown before.
BROWSE_BUTTON = """
const [done] = arguments;
const nav = [...document.querySelectorAll('nav button')];
const projects = nav.find((b) => b.textContent.trim() === 'Projects');
if (!projects) { done({ skipped: 'the UI has no Projects view' }); return; }
const before = nav.find((b) => b.getAttribute('aria-pressed') === 'true');
projects.click();
setTimeout(() => {
  const found = [...document.querySelectorAll('main button')].some((b) => b.textContent.trim().startsWith('Browse'));
  before?.click();
  setTimeout(() => done({ found }), 300);
}, 500);
"""

# The <img> elements of the page that point at the lacuna scheme, and whether they loaded.
PAGE_MEDIA = """
return [...document.querySelectorAll('img')]
  .filter((img) => /^(lacuna:|https?:\\/\\/lacuna\\.localhost)/.test(img.currentSrc || img.src))
  .map((img) => ({ src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth }));
"""


def call(driver, command, args=None):
    answer = driver.run_async(CALL, command, args or {})
    if "error" in answer:
        raise CheckFailed(f"call {command} rejected: {answer['error']!r}")
    return answer["value"]


def check(driver, project, expected_images):
    # 1. The shell: the UI mounted (Svelte renders into #app) and the title is ours.
    wait_for("the app shell (#app rendered)", lambda: driver.run("return document.querySelector('#app')?.children.length ?? 0"))
    title = driver.run("return document.title")
    if "Lacuna" not in title:
        raise CheckFailed(f"unexpected window title {title!r}")
    print(f"desktop: ok   the app shell rendered ({title!r})")

    # 2. A command round trip through the same IPC the UI uses.
    status = call(driver, "status")
    if status.get("images") != expected_images:
        raise CheckFailed(f"status reports {status.get('images')!r} images, expected {expected_images}: {status!r}")
    print(f"desktop: ok   call('status') answered {status['images']} images")
    bad = driver.run_async(CALL, "no_such_command", {})
    if not isinstance(bad.get("error"), dict) or not isinstance(bad["error"].get("code"), str):
        raise CheckFailed(f"an unknown command should reject with {{code, message}}, got {bad!r}")
    print(f"desktop: ok   an unknown command rejects with code {bad['error']['code']!r}")

    # The capability grants `call`, event listening and the folder picker, nothing else.
    denied = driver.run_async(
        "const [done] = arguments; window.__TAURI_INTERNALS__.invoke('plugin:app|version')"
        ".then((value) => done({ value }), (error) => done({ error: String(error) }));"
    )
    if "error" not in denied:
        raise CheckFailed(f"plugin:app|version is not in the capability but answered {denied!r}")
    print(f"desktop: ok   a command outside the capability is refused ({denied['error'][:80]!r})")

    # 3. Events: the app's project_opened arrives as the Tauri event lacuna://project_opened.
    opened = driver.run_async(EVENT_AFTER_CALL, "lacuna://project_opened", "project_open", {"path": project})
    if "payload" not in opened:
        raise CheckFailed(f"event forwarding: {opened.get('error')!r}")
    print(f"desktop: ok   lacuna://project_opened arrived with {opened['payload']!r}")

    # The native folder dialog is offered to the views: the Projects view's path field shows
    # a Browse button only when the shell registered one (ui/src/lib/folder-picker.ts).
    browse = driver.run_async(BROWSE_BUTTON)
    if browse.get("skipped"):
        print(f"desktop: note no check of the Browse button: {browse['skipped']}")
    elif not browse.get("found"):
        raise CheckFailed("the Projects view shows no Browse… button: the native folder dialog is not registered")
    else:
        print("desktop: ok   the Projects view offers the native folder dialog (Browse…)")

    # 4. Media through the lacuna scheme, for an id the catalog knows and one it does not.
    page = call(driver, "images", {"query": {"limit": 1}})
    image_id = page["items"][0]["id"]
    thumb = driver.run_async(LOAD_IMAGE, f"thumb/{image_id}")
    if not thumb.get("width"):
        raise CheckFailed(f"thumbnail of image {image_id} did not load: {thumb!r}")
    print(f"desktop: ok   {thumb['url']} loaded ({thumb['width']}x{thumb['height']})")
    original = driver.run_async(LOAD_IMAGE, f"image/{image_id}")
    if not original.get("width"):
        raise CheckFailed(f"original of image {image_id} did not load: {original!r}")
    print(f"desktop: ok   {original['url']} loaded ({original['width']}x{original['height']})")
    unknown = driver.run_async(LOAD_IMAGE, "thumb/987654321")
    if "error" not in unknown:
        raise CheckFailed(f"an unknown id must not load, got {unknown!r}")
    print("desktop: ok   an unknown id is refused")

    # Whatever lacuna: images the UI shows by itself must have loaded too.
    def settled():
        imgs = driver.run(PAGE_MEDIA)
        return imgs if all(i["complete"] for i in imgs) else None

    try:
        shown = wait_for("the UI's images to finish loading", settled, seconds=15)
    except CheckFailed:
        shown = driver.run(PAGE_MEDIA)
        raise CheckFailed(f"the UI's lacuna: images did not finish loading: {shown!r}") from None
    broken = [i for i in shown if not i["width"]]
    if broken:
        raise CheckFailed(f"the UI shows lacuna: images that did not load: {broken!r}")
    print(f"desktop: ok   the UI shows {len(shown)} lacuna: <img> element(s), all loaded")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--driver", required=True, help="tauri-driver URL")
    parser.add_argument("--app", required=True, help="the lacuna-desktop binary")
    parser.add_argument("--project", required=True, help="project folder to open")
    parser.add_argument("--images", type=int, required=True, help="how many images the project holds")
    parser.add_argument("--screenshot", required=True, help="where to write the PNG")
    opts = parser.parse_args()

    driver = WebDriver(opts.driver)
    failure = None
    try:
        driver.wait_ready(60)
        driver.start(os.path.abspath(opts.app), [os.path.abspath(opts.project)])
        check(driver, os.path.abspath(opts.project), opts.images)
    except CheckFailed as e:
        failure = str(e)
    if driver.session:
        # Taken after a failed check too: then it helps most.
        time.sleep(1)  # let the last layout paint
        try:
            save_screenshot(driver, opts.screenshot)
        except (CheckFailed, OSError) as e:
            failure = failure or f"screenshot: {e}"
        driver.stop()
    if failure:
        print(f"desktop: FAILED: {failure}", file=sys.stderr)
        return 1
    print("desktop: all checks passed")
    return 0


def save_screenshot(driver, path):
    png = driver.screenshot()
    if not png.startswith(b"\x89PNG"):
        raise CheckFailed("the screenshot is not a PNG")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(png)
    print(f"desktop: screenshot {path} ({len(png)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
