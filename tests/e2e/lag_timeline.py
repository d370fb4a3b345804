#!/usr/bin/env python3
"""Where a delivery's time goes, query by query (make bench-lag-timeline): the lag benchmark's
sites (tests/e2e/lag.py, a2 → b and c), with a test-only mu-plugin that stamps every database
query and the hooks that mark the steps, on the sender after it answered the browser and on
the receivers from the start of their PHP. Prints, per change and side, the median timeline:
time since the first stamp, and the median gap before each stamp (mostly the previous query's
own time plus the PHP between the two).

    python3 tests/e2e/lag_timeline.py [--rounds=N] [--acts=create,update,password] [--burn]

--burn adds three changes per round for the machine's own behaviour: an update whose request
first hashes a password with bcrypt (as a sign-up or password change does on the sender), the
same followed by 30 ms of sleep before the answer, and one that spins 50 ms instead of hashing;
the receivers' WordPress loading time is reported for each kind. Figures are printed, never asserted.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lag  # noqa: E402

STAMPS = r"""<?php
// Test-only: stamps queries and step hooks into %(out)s, one JSON line per request.
$usersync_stamps = null;
function usersync_stamp($what) { global $usersync_stamps; if (is_array($usersync_stamps)) { $usersync_stamps[] = array(microtime(true), $what); } }
$usersync_kind = isset($_GET['usersync_e2e']) ? (string) $_GET['usersync_e2e'] : ((($_GET['rest_route'] ?? '') === '/usersync/v1/inbox') ? 'inbox' : '');
if ('inbox' === $usersync_kind) {
    $usersync_stamps = array(array($_SERVER['REQUEST_TIME_FLOAT'], 'php starts'));
    foreach (array('plugins_loaded', 'after_setup_theme', 'init', 'wp_loaded') as $hook) {
        add_action($hook, function () use ($hook) { usersync_stamp("$hook"); }, PHP_INT_MIN);
    }
} elseif ('' !== $usersync_kind) {
    add_action('shutdown', function () { global $usersync_stamps; $usersync_stamps = array(); usersync_stamp('answering the browser'); }, 0);
}
// A query's shape: its values left out, so that the same step lines up across runs.
add_filter('query', function ($q) { usersync_stamp('Q ' . substr(preg_replace(array("/'(?:[^'\\\\]|\\\\.)*'/s", '/\b\d+\b/', '/\s+/'), array('?', 'N', ' '), $q), 0, 72)); return $q; }, PHP_INT_MIN);
foreach (array('usersync_before_apply', 'user_register', 'usersync_after_apply', 'http_request_args', 'http_api_debug') as $hook) {
    add_filter($hook, function ($arg = null) use ($hook) { usersync_stamp($hook); return $arg; }, PHP_INT_MIN);
}
register_shutdown_function(function () use ($usersync_kind) {
    register_shutdown_function(function () use ($usersync_kind) {
        global $usersync_stamps;
        if ($usersync_stamps) {
            file_put_contents('%(out)s', json_encode(array('site' => DB_NAME, 'kind' => $usersync_kind, 'at' => $_GET['login'] ?? '', 'p' => $usersync_stamps)) . "\n", FILE_APPEND);
        }
    });
});
"""

BURN = ("case 'update':", "case 'update': if (isset($_GET['burn'])) { if ('spin' === $_GET['burn']) { $t = microtime(true); while (microtime(true) - $t < 0.05) {} } else { wp_hash_password('x'); } if ('late' === $_GET['burn']) { usleep(30000); } }")


def median_timeline(runs):
    """The runs with the most common stamp sequence: [(median time, median gap, label)]."""
    by_shape = {}
    for p in runs:
        by_shape.setdefault(tuple(x[1] for x in p), []).append(p)
    shape, ps = max(by_shape.items(), key=lambda kv: len(kv[1]))
    rows = []
    for i, label in enumerate(shape):
        at = statistics.median((p[i][0] - p[0][0]) * 1000 for p in ps)
        gap = statistics.median((p[i][0] - p[i - 1][0]) * 1000 if i else 0.0 for p in ps)
        rows.append((at, gap, label))
    return len(ps), len(runs), rows


def main():
    rounds = lag.arg("rounds", 12)
    acts = lag.arg("acts", "create,update,password", str).split(",")
    burn = "--burn" in sys.argv
    if burn:
        lag.ENDPOINT = lag.ENDPOINT.replace(*BURN)
    bench = lag.Bench(2)
    try:
        out = os.path.join(bench.env.work, "timeline.jsonl")
        open(out, "w").close()
        os.chmod(out, 0o666)
        for site in ("a2", "b", "c"):
            with open(os.path.join(bench.env.sites[site]["path"], "wp-content", "mu-plugins", "usersync-timeline.php"), "w") as f:
                f.write(STAMPS % {"out": out})
        for _ in range(3):
            lag.get(bench.port["a2"], "/")
        kinds = []  # (login, what) in order
        for r in range(rounds):
            for act in acts:
                bench.change("a2", act, f"tl{r}")
                kinds.append((f"tl{r}", act))
                time.sleep(0.05)
            if burn:
                for how in ("now", "late", "spin"):
                    lag.get(bench.port["a2"], f"/?usersync_e2e=update&burn={how}&login=tl{r}")
                    kinds.append((f"tl{r}", f"update after bcrypt ({how})"))
                    time.sleep(0.3)
        lines = [json.loads(line) for line in open(out)]
    finally:
        bench.close()
    senders = [x for x in lines if x["site"].endswith("_a2")]
    inbox = [x for x in lines if x["kind"] == "inbox"]
    received, sent_as = {}, {}  # what -> the receivers' requests that began within 50 ms of the sender's answer; the sender's
    for (login, what), sent in zip(kinds, senders):
        sent_as.setdefault(what, []).append(sent["p"])
        t0 = sent["p"][0][0]
        received.setdefault(what, []).extend(x for x in inbox if 0 < x["p"][0][0] - t0 < 0.05)
    print(f"\n{os.cpu_count()} CPUs, {rounds} rounds; ms; gap = since the stamp before (that query's own time and the PHP between)")
    for act in acts:
        for side, runs in (("sender, after answering the browser", sent_as.get(act, [])),
                           ("receiver b", [x["p"] for x in received.get(act, []) if x["site"].endswith("_b")])):
            n, total, rows = median_timeline(runs)
            print(f"\n{act}, {side} ({n} of {total} runs alike):")
            for at, gap, label in rows:
                print(f"  {at:7.2f} {gap:6.2f}  {label}")
    print("\nthe receivers' WordPress loading (PHP starts → wp_loaded), median and max over both receivers:")
    for what, runs in received.items():
        loads = [(next(t for t, label in x["p"] if label == "wp_loaded") - x["p"][0][0]) * 1000 for x in runs]
        print(f"  {what:<28} {statistics.median(loads):5.1f}  max {max(loads):5.1f}  ({len(loads)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
