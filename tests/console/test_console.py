"""The web console in a real browser: Debian's Chromium driven by Playwright for Python, against a
real `causeloop serve` on a loopback port (scripts/console-test.sh runs this file).

Every scenario goes through the page as a person would (labelled fields, named buttons) and
checks the outcome through the API as well. Two rules hold for the whole run and are checked at
the end: no request leaves the console's origin, and no dialog ever opens (an Issue titled
`<img src=x onerror=alert(1)>` must stay text).

Environment: CAUSELOOP_BIN (default target/debug/causeloop), CHROMIUM (default Debian's binary),
CONSOLE_SCREENSHOTS (a directory: each page is saved there as PNG; docs/console holds the ones
the README shows).
"""

import re
import base64
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Generous ceilings for waiting on elements (a loaded CI machine runs a debug build): liveness
# waits, never assertions about how long something took.
WAIT_MS = 30_000
expect.set_options(timeout=WAIT_MS)
HOSTILE_TITLE = "<img src=x onerror=alert(1)>"


def chromium_path():
    for candidate in [os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium")]:
        if candidate and os.path.exists(candidate):
            return candidate
    pytest.fail("Chromium is not installed (scripts/test-deps.sh installs Debian's chromium)")


class Receiver(http.server.BaseHTTPRequestHandler):
    """A loopback webhook endpoint that records what it receives and answers 200."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Receiver.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"received")

    def log_message(self, *args):
        pass


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """Just enough of GitHub for a managed connector: the OAuth App flow (the authorize page
    consents at once and redirects back; the token endpoint checks the code and its PKCE
    verifier) and one repository's issues list, for the token it issued."""

    codes = {}
    TOKEN = "gho_console_token"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/login/oauth/authorize":
            code = "code-%d" % (len(FakeGitHub.codes) + 1)
            FakeGitHub.codes[code] = query.get("code_challenge", [None])[0]
            back = query["redirect_uri"][0] + "?" + urllib.parse.urlencode({"code": code, "state": query["state"][0]})
            self.send_response(302)
            self.send_header("Location", back)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/repos/acme/shop/issues":
            if self.headers.get("Authorization") != "Bearer " + FakeGitHub.TOKEN:
                return self.answer(401, {"message": "Bad credentials"})
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
            issue = {
                "number": 7, "title": "Checkout times out behind the payment proxy", "body": "502 from the proxy",
                "state": "closed", "state_reason": "completed", "created_at": now, "updated_at": now,
                "closed_at": now, "html_url": "https://github.com/acme/shop/issues/7", "labels": [{"name": "p2"}],
            }
            self.answer(200, [issue])
        else:
            self.answer(404, {"message": "Not Found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if self.path != "/login/oauth/access_token":
            return self.answer(404, {"message": "Not Found"})
        code = form.get("code", [""])[0]
        if code not in FakeGitHub.codes:
            return self.answer(200, {"error": "bad_verification_code"})
        challenge = FakeGitHub.codes.pop(code)
        verifier = form.get("code_verifier", [""])[0].encode()
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if challenge is not None and computed != challenge:
            return self.answer(200, {"error": "bad_verification_code"})
        self.answer(200, {"access_token": FakeGitHub.TOKEN, "token_type": "bearer", "scope": "repo"})


@pytest.fixture(scope="module")
def server():
    binary = os.environ.get("CAUSELOOP_BIN", str(ROOT / "target/debug/causeloop"))
    data_dir = tempfile.mkdtemp(prefix="causeloop-console-")
    github = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=github.serve_forever, daemon=True).start()
    github_url = "http://127.0.0.1:%d" % github.server_port
    process = subprocess.Popen(
        [binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir, "--allow-private-targets",
         "--oauth-github-client-id", "console-client", "--oauth-github-client-secret", "console-secret",
         "--oauth-github-authorize-url", github_url + "/login/oauth/authorize",
         "--oauth-github-token-url", github_url + "/login/oauth/access_token"],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(data_dir, "serve.log"), "w"),
        text=True,
    )
    base = None
    for line in process.stdout:
        if line.startswith("causeloop listening on "):
            base = line.split(" on ", 1)[1].strip()
            break
    assert base, "causeloop serve did not start; see " + data_dir + "/serve.log"
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    credentials = json.load(open(os.path.join(data_dir, "credentials.json")))
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield {"base": base, "key": credentials["key"], "receiver": "http://127.0.0.1:%d/hook" % receiver.server_port,
           "github": github_url}
    receiver.shutdown()
    github.shutdown()
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)


def call(server, method, path, body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server["base"] + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + (key or server["key"]))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def eventually(check, what):
    """Waits for `check()` to be truthy: a liveness wait with a generous ceiling, not a timing assertion."""
    for _ in range(600):
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail("never happened: " + what)


@pytest.fixture(scope="module")
def browser_run(server):
    shots = os.environ.get("CONSOLE_SCREENSHOTS")
    if shots:
        os.makedirs(shots, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        record = {"requests": [], "dialogs": [], "console_errors": [], "shots": shots}
        yield browser, record
        browser.close()


def open_page(browser_run, server, viewport=None):
    browser, record = browser_run
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("request", lambda request: record["requests"].append(request.url))
    page.on("dialog", lambda dialog: (record["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type == "error" and record["console_errors"].append(message.text))
    page.goto(server["base"] + "/")
    return page


def shot(browser_run, page, name):
    """Checks that the page rendered no value as a JavaScript object, then saves a screenshot."""
    expect(page.locator("#view")).not_to_contain_text("[object ")
    expect(page.locator("#view")).not_to_contain_text("undefined")
    directory = browser_run[1]["shots"]
    if directory:
        page.screenshot(path=os.path.join(directory, name + ".png"), full_page=True)


def sign_in(page, key):
    page.locator("#sign-in").get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture(scope="module")
def page(browser_run, server):
    page = open_page(browser_run, server)
    shot(browser_run, page, "sign-in")
    sign_in(page, server["key"])
    yield page
    page.context.close()


def ingest(server, **record):
    status, body = call(server, "POST", "/v1/ingest/events", {"source": "console-test", **record})
    assert status == 202, body
    return body["issue_id"]


def test_sign_in_keeps_the_key_in_the_tab_and_shows_only_what_it_may_do(browser_run, server, page):
    nav = page.get_by_role("navigation", name="Main")
    for name in ["Issues", "Patterns", "Integrations", "Webhooks", "API keys"]:
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('causeloop.key')") == server["key"]
    assert server["key"] not in page.url
    assert page.context.cookies() == []

    # A reader's key: no Integrations, Webhooks or API keys; Resolve is disabled.
    status, reader = call(server, "POST", "/v1/keys", {"scopes": ["issues:read"]})
    assert status == 201, reader
    issue_id = ingest(server, external_id="reader-1", title="reader sees this")
    other = open_page(browser_run, server)
    sign_in(other, reader["key"])
    other_nav = other.get_by_role("navigation", name="Main")
    expect(other_nav.get_by_role("link", name="Issues")).to_be_visible()
    expect(other_nav.get_by_role("link", name="Patterns")).to_be_visible()
    for hidden in ["Integrations", "Webhooks", "API keys"]:
        expect(other_nav.get_by_role("link", name=hidden)).to_be_hidden()
    other.goto(server["base"] + "/#/issues/" + issue_id)
    expect(other.get_by_role("button", name="Resolve")).to_be_disabled()

    # Signing out forgets the key.
    other.get_by_role("button", name="Sign out").click()
    expect(other.locator("#sign-in").get_by_label("API key")).to_be_visible()
    assert other.evaluate("sessionStorage.getItem('causeloop.key')") is None
    other.context.close()


def test_an_issue_pushed_through_the_api_appears_and_is_resolved_with_a_fix(browser_run, server, page):
    issue_id = ingest(server, external_id="console-1", title="Payment gateway timeout on checkout", severity="high", service="payments")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Issues").click()
    page.reload()
    link = page.get_by_role("link", name="Payment gateway timeout on checkout")
    expect(link).to_be_visible()
    shot(browser_run, page, "issues")

    link.click()
    expect(page.get_by_role("heading", name="Payment gateway timeout on checkout")).to_be_visible()
    expect(page.locator("dd").filter(has_text="payments")).to_be_visible()
    page.get_by_label("Fix", exact=True).fill("raised the gateway timeout to 30 s")
    shot(browser_run, page, "issue")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("raised the gateway timeout to 30 s").first).to_be_visible()
    status, issue = call(server, "GET", "/v1/issues/" + issue_id)
    assert status == 200 and issue["status"] == "resolved", issue
    assert issue["resolution"]["fix"] == "raised the gateway timeout to 30 s"
    timeline = page.locator("ol.timeline li")
    expect(timeline.filter(has_text="Resolved: raised the gateway timeout to 30 s")).to_be_visible()

    # It comes back: the timeline shows the reopening after the resolution.
    ingest(server, external_id="console-1", title="Payment gateway timeout on checkout", severity="high", service="payments")
    page.reload()
    expect(timeline.filter(has_text="Reopened")).to_be_visible()


def test_an_issue_shows_its_recurrence_risk_and_the_fixes_of_its_pattern(browser_run, server, page):
    # History first: an Issue of the Pattern resolved with a fix, then a new one of the same Pattern.
    ingest(server, external_id="queue-1", title="Queue consumer lag above 500 on orders", service="orders",
           status="resolved", resolution={"fix": "scaled the consumers to 6"})
    fresh = ingest(server, external_id="queue-2", title="Queue consumer lag above 900 on orders", service="orders")
    eventually(lambda: call(server, "GET", "/v1/issues/" + fresh)[1].get("prediction"), "the new Issue is predicted")
    eventually(lambda: call(server, "GET", "/v1/issues/%s/recommendations" % fresh)[1].get("data"), "the fix is known")

    page.goto(server["base"] + "/#/issues/" + fresh)
    expect(page.get_by_role("heading", name="Queue consumer lag above 900 on orders")).to_be_visible()
    expect(page.locator("dl.facts").first.locator("dd").filter(has_text="in 7 d")).to_be_visible()
    fixes = page.locator(".card").filter(has=page.get_by_role("heading", name="Recommended fixes"))
    expect(fixes.get_by_text("scaled the consumers to 6")).to_be_visible()
    triage = page.get_by_role("region", name="Triage")
    expect(triage.locator("dd").filter(has_text="within 7 days")).to_be_visible()
    expect(triage.get_by_role("link", name="Queue consumer lag above 500 on orders")).to_be_visible()
    expect(triage.locator("td").filter(has_text="scaled the consumers to 6")).to_be_visible()
    shot(browser_run, page, "issue-insights")

    # Patterns by recurrence risk, each with its risk.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patterns").click()
    page.get_by_label("Sort by").select_option("risk")
    expect(page).to_have_url(re.compile(r"#/patterns\?sort=risk"))
    expect(page.get_by_role("columnheader", name="Recurrence risk")).to_be_visible()
    expect(page.locator("tbody tr").first.locator("td").nth(5)).to_contain_text("in 7 d")


def test_a_pattern_and_its_chart(browser_run, server, page):
    first = ingest(server, external_id="disk-1", title="disk full on /dev/sda1", service="db")
    ingest(server, external_id="disk-2", title="disk full on /dev/sdb2", service="db")
    pattern_id = eventually(lambda: call(server, "GET", "/v1/issues/" + first)[1].get("pattern_id"), "the Issue is clustered")
    eventually(lambda: call(server, "GET", "/v1/patterns/" + pattern_id)[1].get("issue_count") == 2, "both Issues join the Pattern")

    page.goto(server["base"] + "/#/patterns")
    row_link = page.locator("a[href='#/patterns/%s']" % pattern_id)
    expect(row_link).to_be_visible()
    expect(row_link).to_contain_text("<PATH>")
    shot(browser_run, page, "patterns")
    row_link.click()
    expect(page.get_by_role("heading", name="Issues over time")).to_be_visible()
    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(1)
    expect(chart.locator("text.value")).to_have_text(["2"])
    expect(page.get_by_role("link", name="disk full on /dev/sdb2")).to_be_visible()
    shot(browser_run, page, "pattern")


def test_a_custom_connector_gets_an_inbound_webhook_and_a_new_secret(browser_run, server, page):
    page.goto(server["base"] + "/#/integrations")
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    page.get_by_label("Type", exact=True).select_option("custom_api")
    page.get_by_label("Display name").fill("Deploy Monitor")
    page.get_by_role("button", name="Create connector").click()
    row = page.get_by_role("row").filter(has_text="Deploy Monitor")
    expect(row).to_be_visible()
    expect(row).to_contain_text("0 event(s), 0 error(s) in 24 h")

    row.get_by_role("button", name="Register inbound webhook").click()
    secret = page.get_by_role("textbox", name="Signing secret", exact=True)
    expect(secret).to_have_value(lambda_prefix("whsec_"))
    first_secret = secret.input_value()
    expect(page.get_by_role("textbox", name="Webhook URL", exact=True)).to_have_value(lambda_prefix(server["base"] + "/v1/webhooks/inbound/con_"))
    shot(browser_run, page, "integrations")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("textbox", name="Signing secret", exact=True)).to_have_count(0)
    assert first_secret not in page.content(), "a dismissed secret stays in the DOM"

    status, connectors = call(server, "GET", "/v1/connectors")
    connector = next(c for c in connectors["data"] if c["display_name"] == "Deploy Monitor")
    assert connector["inbound_webhook_id"], connector

    page.get_by_role("row").filter(has_text="Deploy Monitor").get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("textbox", name="Signing secret", exact=True)).to_have_value(lambda_prefix("whsec_"))
    assert page.get_by_role("textbox", name="Signing secret", exact=True).input_value() != first_secret
    status, webhook = call(server, "GET", "/v1/webhooks/" + connector["inbound_webhook_id"])
    assert status == 200 and webhook["previous_secret_expires_at"], webhook
    page.get_by_role("button", name="Done").click()


def test_a_github_connector_is_authorized_through_oauth_and_backfills(browser_run, server, page):
    page.goto(server["base"] + "/#/integrations")
    page.get_by_label("Type", exact=True).select_option("github")
    page.get_by_label("Display name").fill("Shop issues")
    page.get_by_label("repositories").fill("acme/shop")
    page.get_by_label("base_url").fill(server["github"])
    page.get_by_role("button", name="Create connector").click()
    row = page.get_by_role("row").filter(has_text="Shop issues")
    expect(row).to_contain_text("needs_auth")

    # The vendor's pages are another origin: the flow runs in a context whose requests the
    # same-origin check at the end does not record.
    browser, _ = browser_run
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    oauth_page = context.new_page()
    oauth_page.set_default_timeout(WAIT_MS)
    oauth_page.goto(server["base"] + "/")
    sign_in(oauth_page, server["key"])
    oauth_page.goto(server["base"] + "/#/integrations")
    oauth_page.get_by_role("row").filter(has_text="Shop issues").get_by_role("button", name="Authorize").click()
    oauth_page.wait_for_url(lambda_prefix(server["base"] + "/v1/oauth/callback?"))
    expect(oauth_page.get_by_role("heading", name="Connected", exact=True)).to_be_visible()
    context.close()

    def synced():
        status, connectors = call(server, "GET", "/v1/connectors")
        connector = next(c for c in connectors["data"] if c["display_name"] == "Shop issues")
        last = (connector.get("sync") or {}).get("last_sync") or {}
        return connector if last.get("status") == "completed" else None

    connector = eventually(synced, "the OAuth-authorized connector's first sync completed")
    assert connector["status"] == "connected" and connector["oauth_connected"], connector
    page.reload()
    row = page.get_by_role("row").filter(has_text="Shop issues")
    expect(row).to_contain_text("connected")
    row.get_by_role("button", name="Sync history").click()
    expect(row).to_contain_text("backfill: 1 page(s), 1 record(s); 1 created, 0 updated, 1 resolved")
    page.goto(server["base"] + "/#/issues")
    expect(page.get_by_role("link", name="Checkout times out behind the payment proxy")).to_be_visible()
    assert FakeGitHub.TOKEN not in page.content()


def lambda_prefix(prefix):
    import re

    return re.compile("^" + re.escape(prefix))


def test_an_outbound_endpoint_gets_a_test_delivery_and_a_redelivery(browser_run, server, page):
    page.goto(server["base"] + "/#/webhooks")
    page.get_by_label("URL", exact=True).fill(server["receiver"])
    page.get_by_label("issue.resolved").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("textbox", name="Signing secret", exact=True)).to_have_value(lambda_prefix("whsec_"))
    page.get_by_role("button", name="Done").click()

    row = page.get_by_role("row").filter(has_text=server["receiver"])
    row.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("heading", name="Deliveries to")).to_be_visible()
    eventually(lambda: any(b'"ping"' in body for _, _, body in Receiver.received), "the receiver gets the ping")

    def delivered():
        page.get_by_role("button", name="Refresh").click()
        return page.get_by_role("row").filter(has_text="succeeded").count() > 0

    eventually(delivered, "the console shows the delivery as succeeded")
    delivery_row = page.get_by_role("row").filter(has_text="succeeded").first
    expect(delivery_row).to_contain_text("200")
    expect(delivery_row).to_contain_text("received")
    shot(browser_run, page, "webhooks")
    before = len(Receiver.received)
    delivery_row.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("Redelivery queued.")).to_be_visible()
    eventually(lambda: len(Receiver.received) > before, "the receiver gets the redelivery")

    # Edit: subscribe to pattern.detected as well.
    page.get_by_role("row").filter(has_text=server["receiver"]).get_by_role("button", name="Edit").click()
    editor = page.get_by_role("form", name="Edit endpoint")
    editor.get_by_label("pattern.detected").check()
    editor.get_by_role("button", name="Save endpoint").click()
    expect(page.get_by_text("Endpoint saved.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=server["receiver"])).to_contain_text("pattern.detected")
    status, webhooks = call(server, "GET", "/v1/webhooks")
    endpoint = next(w for w in webhooks["data"] if w["url"] == server["receiver"])
    assert endpoint["event_types"] == ["issue.ingested", "issue.resolved", "pattern.detected"], endpoint


def test_a_key_is_created_shown_once_and_revoked(browser_run, server, page):
    page.goto(server["base"] + "/#/keys")
    page.get_by_label("issues:read").check()
    page.get_by_role("button", name="Create key").click()
    key_field = page.locator(".secret").get_by_role("textbox", name="API key", exact=True)
    expect(key_field).to_have_value(lambda_prefix("clk_"))
    new_key = key_field.input_value()
    expect(page.get_by_role("textbox", name="Webhook secret", exact=True)).to_have_value(lambda_prefix("whsec_"))
    expect(page.get_by_role("button", name="Copy")).to_have_count(2)
    shot(browser_run, page, "keys")
    status, me = call(server, "GET", "/v1/keys/me", key=new_key)
    assert status == 200 and me["scopes"] == ["issues:read"], me

    page.get_by_role("button", name="Done").click()
    assert new_key not in page.content(), "a dismissed key stays in the DOM"
    row = page.locator("tr[data-key-id='%s']" % me["id"])
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Confirm revoke").click()
    expect(page.locator("tr[data-key-id='%s']" % me["id"])).to_contain_text("revoked")
    assert call(server, "GET", "/v1/keys/me", key=new_key)[0] == 401

    # The signed-in key is listed but offers no Revoke: the API refuses a key's own revocation.
    own = call(server, "GET", "/v1/keys/me")[1]
    expect(page.locator("tr[data-key-id='%s']" % own["id"])).to_contain_text("(this key)")
    expect(page.locator("tr[data-key-id='%s']" % own["id"]).get_by_role("button", name="Revoke")).to_have_count(0)


def test_a_hostile_title_is_shown_as_text_and_runs_nothing(browser_run, server, page):
    issue_id = ingest(server, external_id="xss-1", title=HOSTILE_TITLE, body="<script>alert(2)</script>")
    page.goto(server["base"] + "/#/issues")
    page.reload()
    expect(page.get_by_role("link", name=HOSTILE_TITLE)).to_be_visible()
    assert page.locator("#view img").count() == 0
    page.get_by_role("link", name=HOSTILE_TITLE).click()
    expect(page.get_by_role("heading", name=HOSTILE_TITLE)).to_be_visible()
    expect(page.get_by_text("<script>alert(2)</script>")).to_be_visible()
    assert page.locator("#view img, #view script").count() == 0
    assert issue_id in page.url
    assert browser_run[1]["dialogs"] == []


def test_a_phone_width_page_works(browser_run, server):
    phone = open_page(browser_run, server, viewport={"width": 390, "height": 844})
    sign_in(phone, server["key"])
    phone.goto(server["base"] + "/#/issues")
    expect(phone.get_by_role("link", name="Payment gateway timeout on checkout")).to_be_visible()
    shot(browser_run, phone, "issues-phone")
    phone.context.close()


def test_no_request_left_the_origin_no_dialog_opened_and_no_policy_was_violated(browser_run, server):
    record = browser_run[1]
    assert record["requests"], "requests were recorded"
    foreign = [url for url in record["requests"] if not url.startswith(server["base"] + "/")]
    assert foreign == []
    assert record["dialogs"] == []
    assert [text for text in record["console_errors"] if "Content Security Policy" in text] == []
