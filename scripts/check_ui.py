#!/usr/bin/env python3
"""Looks at the synced cluster in Nautobot's web UI the way a person would, with headless Chromium.

Logs in through the login form, opens the virtual machine list of one Nautobot Cluster, and
checks that every VM the REST API lists for that cluster is on the page (name and status), that
the page's CSS loaded (the static files are served), and saves a screenshot.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
ending in NUL on file descriptors 3 and 4), so only the standard library is needed.

Usage: check_ui.py --url URL --token TOKEN --cluster NAME [--screenshot FILE.png]
                   [--user admin --password admin] [--chromium chromium]
Exit status: 0 when every VM is on the page, 1 when not, 2 on a usage or browser error.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


class Browser:
    """One headless Chromium and one page, commands sent over the DevTools pipe."""

    def __init__(self, chromium, width, height):
        self.profile = tempfile.TemporaryDirectory(prefix="check-ui-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        args = [
            chromium,
            "--headless",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={self.profile.name}",
            f"--window-size={width},{height}",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox

        # the child finds the pipe on fds 3 (commands) and 4 (answers): a shell puts it there
        wire = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        self.proc = subprocess.Popen(
            ["sh", "-c", wire, "sh", *args], pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self.proc.poll()})")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, timeout=60, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    del self.events[: i + 1]
                    return event
            self.events.clear()
            self.events.append(self._read(deadline))

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", session=True, url=url)
        self.wait_event("Page.loadEventFired")

    def js(self, expression):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def submit_and_wait(self, expression):
        self.events.clear()
        self.js(expression)
        self.wait_event("Page.loadEventFired")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.profile.cleanup()


def api(url, token, path):
    req = urllib.request.Request(
        url + path, headers={"Authorization": f"Token {token}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def missing_vms(vms, text):
    """What the page text lacks: each VM's row (its name in a cell) with the VM's status."""
    rows = text.splitlines()
    missing = []
    for vm in vms:
        status = vm["status"]["name"] if isinstance(vm.get("status"), dict) else ""
        hit = [line for line in rows if vm["name"] in line.split("\t")]
        if not hit:
            missing.append(f"VM {vm['name']} is not on the page")
        elif status and not any(status in line for line in hit):
            missing.append(f"VM {vm['name']} is on the page without its status {status}")
    return missing


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--cluster", required=True, help="the Nautobot Cluster's name")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--screenshot")
    p.add_argument("--chromium", default="chromium")
    a = p.parse_args()
    url = a.url.rstrip("/")

    # What the page must show: the REST API's answer for the same cluster.
    clusters = api(url, a.token, "/api/virtualization/clusters/?depth=0&name=" + urllib.parse.quote(a.cluster))
    if clusters["count"] != 1:
        print(f"check-ui: no Nautobot Cluster named {a.cluster!r}", file=sys.stderr)
        return 2
    cluster = clusters["results"][0]["id"]
    vms = api(url, a.token, f"/api/virtualization/virtual-machines/?cluster={cluster}&depth=1&limit=1000")["results"]
    if not vms:
        print(f"check-ui: the API lists no VMs in cluster {a.cluster!r}: nothing to look at", file=sys.stderr)
        return 2

    browser = Browser(a.chromium, 1440, 1100)
    try:
        browser.navigate(f"{url}/login/?next=/")
        browser.submit_and_wait(
            "document.querySelector('#id_username').value = " + json.dumps(a.user) + ";"
            "document.querySelector('#id_password').value = " + json.dumps(a.password) + ";"
            "document.querySelector('#id_username').form.submit();"
        )
        if "/login/" in browser.js("location.pathname"):
            print("check-ui: the login was refused", file=sys.stderr)
            return 1
        page = f"{url}/virtualization/virtual-machines/?cluster={cluster}&per_page=100&sort=name"
        browser.navigate(page)
        # Nautobot 3 renders the list page with an empty table and fetches the rows with htmx
        # after the load event (hx-trigger="load" on #object_table_wrapper), so wait for the
        # rows: until every VM is on the page, or the table request has settled and stays so.
        deadline = time.monotonic() + 30
        settled_since = None
        while True:
            text = browser.js("document.body.innerText")
            missing = missing_vms(vms, text)
            settled = browser.js("!document.querySelector('.htmx-request')"
                                 " && !!document.querySelector('#object_table tbody')")
            now = time.monotonic()
            settled_since = (settled_since or now) if settled else None
            if not missing or now > deadline or (settled_since and now - settled_since > 2):
                break
            time.sleep(0.25)
        title = browser.js("document.title")
        styled = browser.js(
            "Array.from(document.styleSheets).some(s => s.href && s.href.includes('/static/')"
            " && s.cssRules.length > 0)"
        )
        if a.screenshot:
            browser.screenshot(a.screenshot)
    finally:
        browser.close()

    failures = []
    if not styled:
        failures.append("the page has no stylesheet from /static/ (static files not served)")
    failures += missing
    print(f"check-ui: {page}")
    print(f"check-ui: page title {title!r}; {len(vms)} VMs in the API, "
          f"{len(vms) - sum(1 for f in failures if f.startswith('VM '))} found on the page with their status")
    if a.screenshot:
        print(f"check-ui: screenshot {a.screenshot}")
    for f in failures:
        print(f"check-ui: FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
