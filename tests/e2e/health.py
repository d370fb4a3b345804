"""The link health check on the real sites of test_sync.py (A checks its link to B, whose inbox
answers): Usersync_Health::test — the function behind the settings page's "Test link" and
`wp usersync test` — diagnosing each of these in plain words, with B's configuration, plugin,
PHP or clock changed for the one case and put back after it:

- a healthy link (and a one-way one); a wrong secret; a wrong peer id (either side); the
  peer's plugin deactivated; FFI off on the peer (its own php-fpm with ffi.enable=0); a peer URL
  at a port where nothing listens; a peer whose clock is 10 minutes ahead; our address outside
  the peer's ip_allow; the peer behind an nginx reverse proxy, without and with the
  trusted-proxy setting;
- the settings page's Test link button through a real POST with a logged-in administrator
  (and refused without the nonce), and the block for the other site shown only in the answer
  to a POST, stored nowhere.

The skewed clock is real and test-only: B is served by a php-fpm of its own started under
Debian's libfaketime (FAKETIME=+600). PHP loads libraries with RTLD_DEEPBIND, which would keep
the library on libc's clock, so libusersync.so is preloaded too (LD_PRELOAD) and takes the
faked clock_gettime. Nothing in the plugin or the library knows about it.
"""
import contextlib
import copy
import html
import os
import re
import socket
import subprocess
import time

from checks import check, secret
from sites import write_config

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def test(env, peer="b.test"):
    return env.wp("a", "health_test", peer=peer)


def entry(constants, peer_id):
    return next(p for p in constants["USERSYNC_PEERS"] if p["id"] == peer_id)


@contextlib.contextmanager
def configured(env, name, change):
    """The site's wp-config-local.php with `change(constants)` applied, then the original again.
    A's changes are read by the command-line check only (no opcache there): no wait for them."""
    path = os.path.join(env.sites[name]["path"], "wp-config-local.php")
    with open(path) as f:
        original = f.read()
    constants = copy.deepcopy(env.sites[name]["constants"])
    change(constants)
    write_config(path, constants)
    served = name != "a"
    if served:
        time.sleep(1.1)  # a new mtime (seconds) for php-fpm's opcache
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(original)
        if served:
            time.sleep(1.1)


def seen_pings(env):
    return int(env.sql("SELECT COUNT(*) FROM usersync_b.wp_usersync_seen WHERE iss='a.test'"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect(result, code, *words, what):
    text = result["message"] + " " + " ".join(result["notes"])
    ok = result["code"] == code and all(w in text for w in words)
    check(ok, f"{what}: {code} {words} (got {result['code']}: {text})")


def healthy(env):
    before = seen_pings(env)
    r = test(env)
    expect(r, "healthy", "works both ways", "usersync 0.1.0 there", what="a healthy link")
    check(r["ok"] and r["last_success"] == r["time"] and abs(r["peer_time"] - r["local_time"]) <= 5,
          f"a healthy link shows both clocks and is remembered as the last success: {r}")
    check(seen_pings(env) == before + 1, "B recorded the ping like any action (its replay record)")
    last = env.wp("b", "log")[-1]
    check((last["act"], last["result"], last["peer"]) == ("ping", "answered", "a.test"), f"B's log: ping answered ({last})")
    expect(test(env, "c.test"), "healthy", what="the link to C")
    with configured(env, "b", lambda c: entry(c, "a.test")["accept"].update(actions=["create"])):
        r = test(env)
    expect(r, "one_way", "b.test does not accept update, delete, password, meta, logout from this site",
           what="B accepting only create")
    check(r["ok"], "a one-way link still works (a warning, not a failure)")
    status = {row["peer"]: row for row in env.wp("a", "health_status")}
    check(status["b.test"]["result"] == "one_way" and status["b.test"]["last_success"] and status["c.test"]["result"] == "healthy",
          f"the status lists every peer's last check and success: {status}")


def broken_links(env):
    last_success = env.wp("a", "health_results")["b.test"]["last_success"]

    def wrong_secret(c):
        entry(c, "a.test")["secrets"] = [secret()]

    with configured(env, "b", wrong_secret):
        expect(test(env), "secret_mismatch", "could not authenticate the ping", "the secrets differ", what="a wrong secret on B")
    with configured(env, "b", lambda c: c.update(USERSYNC_SITE_ID="b.example")):
        expect(test(env), "peer_id_mismatch", 'calls itself "b.example"', 'names it "b.test"', what="B calling itself b.example")
    with configured(env, "b", lambda c: entry(c, "a.test").update(id="a.example")):
        expect(test(env), "secret_mismatch", 'not named "a.test"', what="B naming A a.example")
    r = env.wp("a", "health_results")["b.test"]
    check(not r["ok"] and r["last_success"] == last_success, "a failed check keeps the time of the last success")

    plugin = "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
    load = f"$_SERVER['HTTP_HOST']='127.0.0.1'; define('WP_USE_THEMES', false); require '{env.sites['b']['path']}/wp-load.php';"
    env.php("b", "-r", load + plugin + "deactivate_plugins('usersync/usersync.php');")
    try:
        expect(test(env), "plugin_missing", "no usersync inbox", "not installed or not active there", what="the plugin deactivated on B")
    finally:
        env.php("b", "-r", load + plugin + "activate_plugin('usersync/usersync.php');")

    env.use_fpm("b", env._fpm("-noffi", php_args=("-d", "ffi.enable=0", "-d", "opcache.enable=1")))
    try:
        expect(test(env), "library_missing", "cannot load its library", "FFI", what="FFI off on B")
    finally:
        env.use_fpm("b")

    port = free_port()
    with configured(env, "a", lambda c: entry(c, "b.test").update(url=f"http://127.0.0.1:{port}")):
        expect(test(env), "unreachable", f"127.0.0.1:{port}", "connection refused", what="nothing listening at B's URL")

    skewed = env._fpm("-skew", environ={"LD_PRELOAD": f"{FAKETIME} {env.bundled_lib}", "FAKETIME": "+600", "DONT_FAKE_MONOTONIC": "1"})
    env.use_fpm("b", skewed)
    try:
        r = test(env)
    finally:
        env.use_fpm("b")
    skew = (r["peer_time"] or 0) - r["local_time"]
    shown = [time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) for t in (r["local_time"], r["peer_time"] or 0)]
    expect(r, "clock_skew", "differ by more than the allowed 60 s", *shown, what="B's clock 10 minutes ahead")
    check(595 <= skew <= 605, f"both clocks shown, B's 600 s ahead ({skew} s)")

    with configured(env, "b", lambda c: entry(c, "a.test").update(ip_allow=["127.0.0.9/32"])):
        expect(test(env), "ip_not_allowed", "coming from 127.0.0.1", "not in its ip_allow", what="A outside B's ip_allow")
    expect(test(env), "healthy", what="B as it was")


def behind_proxy(env):
    """B behind an nginx reverse proxy that connects from 127.0.0.3 and appends X-Forwarded-For;
    A delivers to the proxy. B allows A's address (127.0.0.1) only."""
    port, b = free_port(), env.sites["b"]["port"]
    conf = os.path.join(env.work, "nginx-proxy.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon on; pid {env.work}/nginx-proxy.pid; error_log {env.work}/nginx-proxy.log;
events {{ worker_connections 64; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://127.0.0.1:{b}; proxy_bind 127.0.0.3; proxy_set_header Host 127.0.0.1:{b};
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }} }} }}
""")
    subprocess.run(["nginx", "-c", conf, "-p", env.work], check=True)
    try:
        with configured(env, "a", lambda c: entry(c, "b.test").update(deliver_to=f"http://127.0.0.1:{port}")):
            expect(test(env), "ip_not_allowed", "coming from 127.0.0.3", "USERSYNC_TRUSTED_PROXIES",
                   what="behind the proxy, without the trusted-proxy setting")
            with configured(env, "b", lambda c: c.update(USERSYNC_TRUSTED_PROXIES=["127.0.0.3/32"])):
                expect(test(env), "healthy", what="behind the proxy, with B trusting it")
                # Only the proxy is believed: a request straight from 127.0.0.2 naming A's address
                # in X-Forwarded-For is still refused.
                uid = env.wp("a", "uid", login="alice")
                msg = env.wp("a", "build", peer="b.test", event={"act": "update", "data": {
                    "uid": uid, "login": "alice", "email": "alice@new.test", "fields": {"display_name": "Spoofed"}}})[0]["message"]
                out = subprocess.run(["curl", "-s", "--interface", "127.0.0.2", "-H", "X-Forwarded-For: 127.0.0.1",
                                      "-H", "Content-Type: text/plain", "--data-binary", "@-",
                                      f"http://127.0.0.1:{b}/?rest_route=/usersync/v1/inbox"],
                                     input=msg, capture_output=True, text=True, check=True).stdout
                check('"reason":"ip_not_allowed"' in out and '"seen_from":"127.0.0.2"' in out,
                      f"a forwarded-for header from anyone but the proxy is not believed: {out}")
    finally:
        subprocess.run(["nginx", "-c", conf, "-p", env.work, "-s", "stop"], check=False)


def curl(*args):
    return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True).stdout


def settings_page(env, ab):
    url = env.sites["a"]["url"]
    page_url = url + "/wp-admin/options-general.php?page=usersync"
    jar = os.path.join(env.work, "health-admin-cookies.txt")
    password = open(os.path.join(env.sites["a"]["path"], ".admin-password")).read()
    curl("-c", jar, "-b", "wordpress_test_cookie=WP%20Cookie%20check", "--data-urlencode", "log=admin",
         "--data-urlencode", f"pwd={password}", "-d", "testcookie=1", url + "/wp-login.php")
    page = curl("-b", jar, page_url)
    nonce = re.search(r'name="peer" value="b\.test">\s*<input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)"', page)
    check(nonce is not None and "Test link" in page, "the settings page has a Test link button per peer")
    before, pings = env.wp("a", "health_results")["b.test"]["time"], seen_pings(env)

    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-d", "action=usersync_test_link", "-d", "peer=b.test",
                url + "/wp-admin/admin-post.php")
    check(code == "403" and seen_pings(env) == pings, f"Test link without the nonce is refused and pings nobody ({code})")
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-b", jar, "-e", page_url, "-d", "action=usersync_test_link",
                "-d", "peer=b.test", "-d", f"_wpnonce={nonce.group(1) if nonce else ''}", url + "/wp-admin/admin-post.php")
    r = env.wp("a", "health_results")["b.test"]
    check(code == "302" and seen_pings(env) == pings + 1 and r["time"] >= before and r["ok"],
          f"Test link with the page's nonce checks B through its inbox ({code}, {r['code']})")
    page = curl("-b", jar, page_url)
    check("works both ways" in page and time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["last_success"])) in page,
          "the page shows the result and the time of the last success")
    check("usk1_" not in page, "the page itself shows no secret")

    form = re.search(r'<input type="hidden" id="_wpnonce" name="_wpnonce" value="([0-9a-f]+)" />'
                     r'<input type="hidden" name="_wp_http_referer" value="[^"]*" /><select name="usersync_peer_config">', page)
    answer = html.unescape(curl("-b", jar, "-e", page_url, "-d", f"_wpnonce={form.group(1) if form else ''}", "-d",
                                "usersync_peer_config=b.test", page_url))
    check(form is not None and ab in answer and "define( 'USERSYNC_SITE_ID', 'b.test' );" in answer and "'id' => 'a.test'" in answer,
          "the block for B (ids swapped, the same secret) is in the answer to the administrator's POST")
    refused = curl("-b", jar, "-d", "usersync_peer_config=b.test", page_url)
    check(ab not in refused and "The request was not confirmed" in refused, "without the nonce no block is made")
    stored = env.sql("SELECT (SELECT COUNT(*) FROM usersync_a.wp_options WHERE option_value LIKE '%usk1\\_%')"
                     " + (SELECT COUNT(*) FROM usersync_a.wp_usersync_log WHERE reason LIKE '%usk1\\_%')")
    with open(os.path.join(env.work, "php-errors.log")) as f:
        logged = "usk1_" in f.read()
    check(stored == "0" and not logged, "no secret in A's options, activity log or PHP error log")


def run(env, ab):
    healthy(env)
    broken_links(env)
    behind_proxy(env)
    settings_page(env, ab)
