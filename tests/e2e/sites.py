"""Real WordPress sites on this machine for end-to-end tests and the demo.

Each site is Debian's WordPress 6.8 (its own copy of core, database and salts) served by its own
nginx on a loopback port through one php-fpm with FFI enabled the production way (the usersync
header through ffi.preload, the PHP binding through opcache.preload, ffi.enable=preload), on a
private MariaDB. The usersync plugin is installed in each site as the release zip lays it out.
Nothing listens on anything but 127.0.0.1.
"""
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def php_literal(value):
    """A PHP literal for wp-config-local.php (JSON decoded at load: no quoting pitfalls)."""
    return "json_decode(" + repr(json.dumps(value)).replace("\\\\", "\\\\\\\\") + ", true)"


def write_config(path, constants):
    """A site's wp-config-local.php defining `constants` (USERSYNC_SITE_ID, USERSYNC_PEERS, …)."""
    with open(path, "w") as f:
        f.write("<?php\n// usersync settings for this test site (secrets live here, never in the database).\n")
        for key, value in constants.items():
            f.write(f"define({json.dumps(key)}, {php_literal(value)});\n")


class Env:
    def __init__(self, suite="trixie", opcache_mb=None):
        # opcache_mb: php-fpm's opcache size, for runs with more sites than its default 128 MB holds
        # (≈ 20-28 MB per WordPress docroot): an overflowing opcache runs them uncached.
        self.opcache_mb = opcache_mb
        self.work = tempfile.mkdtemp(prefix="usersync-sites.", dir="/tmp")
        os.chmod(self.work, 0o755)
        self.sites = {}
        self.lib = os.path.join(ROOT, "target", "release", "libusersync.so")
        if not os.path.exists(self.lib):
            run("cargo", "build", "--release", "--quiet", cwd=ROOT)
        self.core = os.path.join(ROOT, "build", "wordpress", suite)
        run("bash", os.path.join(ROOT, "scripts/wp/fetch-wordpress.sh"), suite, self.core)
        self.db = os.path.join(self.work, "db")
        run("bash", os.path.join(ROOT, "scripts/wp/mariadb.sh"), "start", self.db)
        self.extra_fpms = []
        self._binding()
        self._fpm()

    def _binding(self):
        """The plugin exactly as it ships: the release zip, unpacked."""
        run("bash", os.path.join(ROOT, "scripts/package-plugin.sh"))
        shutil.unpack_archive(os.path.join(ROOT, "build", "usersync-plugin-linux-x86_64.zip"), os.path.join(self.work, "plugin"))
        self.plugin = os.path.join(self.work, "plugin", "usersync")
        binding = os.path.join(self.plugin, "binding")
        run("chmod", "-R", "a+rX", self.plugin)
        self.preload_header = os.path.join(self.work, "usersync-preload.h")
        self.bundled_lib = os.path.join(binding, "lib", "linux-x86_64", "libusersync.so")
        with open(self.preload_header, "w") as f:
            f.write(run("php", os.path.join(ROOT, "php-bindings/bin/usersync-preload-header"), self.bundled_lib))
        self.preload_script = os.path.join(binding, "preload.php")

    def _fpm(self, tag="", php_args=None, environ=None):
        """Starts a php-fpm (the sites' own, or with `tag` another one with other PHP settings
        `php_args` and process environment `environ`, for one site: use_fpm()); returns its socket."""
        sock = os.path.join(self.work, f"fpm{tag}.sock")
        conf = os.path.join(self.work, f"fpm{tag}.conf")
        if not tag:
            self.fpm_sock = sock
        # With `environ`, the workers keep it (clear_env = no): libfaketime re-reads FAKETIME
        # from the environment every 10 s, and a cleared one ends the skew.
        with open(conf, "w") as f:
            f.write(f"""[global]
pid = {self.work}/fpm{tag}.pid
error_log = {self.work}/fpm.log
daemonize = yes
[sites]
user = www-data
group = www-data
listen = {sock}
listen.mode = 0666
pm = static
pm.max_children = 10
catch_workers_output = yes
{"clear_env = no" if environ else ""}
; A request still running after 10 s gets its PHP backtrace here (what a stuck test waits for).
request_slowlog_timeout = 10s
slowlog = {self.work}/fpm-slow.log
php_admin_value[error_log] = {self.work}/php-errors.log
php_admin_flag[log_errors] = on
""")
        fpm = shutil.which("php-fpm8.2") or shutil.which("php-fpm")
        if php_args is None:
            php_args = ("-d", "ffi.enable=preload", "-d", f"ffi.preload={self.preload_header}", "-d", "opcache.enable=1",
                        "-d", f"opcache.preload={self.preload_script}", "-d", "opcache.preload_user=www-data")
        run(fpm, "--fpm-config", conf, *php_args, "-d", "opcache.revalidate_freq=0",
            *(("-d", f"opcache.memory_consumption={self.opcache_mb}") if self.opcache_mb else ()),
            env=dict(os.environ, **(environ or {})))
        open(os.path.join(self.work, "php-errors.log"), "a").close()
        os.chmod(os.path.join(self.work, "php-errors.log"), 0o666)
        if tag:
            self.extra_fpms.append(os.path.join(self.work, f"fpm{tag}.pid"))
        return sock

    def use_fpm(self, name, sock=None):
        """Serves a site through another php-fpm (from _fpm(tag, …)), or its own again (None)."""
        self.stop(name)
        self.sites[name]["fpm_sock"] = sock
        self._nginx(self.sites[name])
        self.start(name)

    def tls(self, hosts):
        """A test CA (made here, trusted by nothing but the test browser) and one certificate
        for `hosts`; returns the CA's PEM path."""
        d = os.path.join(self.work, "tls")
        os.makedirs(d)
        ca_key, ca, key, csr, cert = (os.path.join(d, f) for f in ("ca.key", "ca.pem", "site.key", "site.csr", "site.pem"))
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
            "-out", ca, "-days", "2", "-subj", "/CN=usersync test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
            "-subj", "/CN=usersync test sites")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts) + "\nextendedKeyUsage=serverAuth\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", ext)
        run("chmod", "-R", "a+rX", d)
        self.cert, self.key, self.ca = cert, key, ca
        return ca

    def add_site(self, name, port, constants, host=None):
        """Creates site `name` with the plugin active and the given wp-config constants
        (USERSYNC_SITE_ID, USERSYNC_PEERS, …): at http://127.0.0.1:port, or with `host` at
        https://host:port (after tls()), plus http://127.0.0.1:port+1000 for server-to-server
        delivery (a peer's 'deliver_to')."""
        url = f"https://{host}:{port}" if host else f"http://127.0.0.1:{port}"
        path = os.path.join(self.work, "sites", name)
        run("bash", os.path.join(ROOT, "scripts/wp/new-site.sh"), self.core, path, url, f"usersync_{name}",
            os.path.join(self.db, "mysqld.sock"))
        shutil.copytree(self.plugin, os.path.join(path, "wp-content", "plugins", "usersync"))
        write_config(os.path.join(path, "wp-config-local.php"), constants)
        site = {"name": name, "port": port, "url": url, "path": path, "host": host, "constants": constants,
                "internal": f"http://127.0.0.1:{port + 1000}" if host else url}
        self.sites[name] = site
        self.php(name, "-r", f"$_SERVER['HTTP_HOST']='127.0.0.1'; define('WP_USE_THEMES', false); require '{path}/wp-load.php';"
                 "require_once ABSPATH . 'wp-admin/includes/plugin.php'; $r = activate_plugin('usersync/usersync.php');"
                 "if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }")
        self._nginx(site)
        self.start(name)
        return site

    def _nginx(self, site):
        w, name = self.work, site["name"]
        site["nginx_conf"] = os.path.join(w, f"nginx-{name}.conf")
        listens = [(f"127.0.0.1:{site['port']}", "")]
        if site["host"]:
            listens = [(f"127.0.0.1:{site['port']} ssl", f"ssl_certificate {self.cert}; ssl_certificate_key {self.key};"),
                       (f"127.0.0.1:{site['port'] + 1000}", "")]
        servers = "".join(self._server(site, listen, extra) for listen, extra in listens)
        with open(site["nginx_conf"], "w") as f:
            f.write(f"""daemon on;
pid {w}/nginx-{name}.pid;
error_log {w}/nginx-{name}-error.log;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    # Every request with its time (what a slow or stuck test ran into).
    log_format timed '$msec $request_time $status "$request" $upstream_response_time';
    access_log {w}/nginx-{name}-access.log timed;
    client_max_body_size 2m;
{servers}
}}
""")

    def _server(self, site, listen, extra):
        https = "fastcgi_param HTTPS on;" if "ssl" in listen else ""
        return f"""
    server {{
        listen {listen};
        {extra}
        root {site['path']};
        index index.php;
        location / {{ try_files $uri $uri/ /index.php?$args; }}
        location ~ \\.php$ {{
            fastcgi_pass unix:{site.get('fpm_sock') or self.fpm_sock};
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param SCRIPT_NAME $fastcgi_script_name;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param DOCUMENT_URI $document_uri;
            fastcgi_param DOCUMENT_ROOT $document_root;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param SERVER_NAME $host;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param HTTP_HOST $host:$server_port;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            {https}
        }}
    }}"""

    def start(self, name):
        run("nginx", "-c", self.sites[name]["nginx_conf"], "-p", self.work)
        port = int(self.sites[name]["internal"].rsplit(":", 1)[1])
        for _ in range(50):
            try:
                # Any HTTP answer means the site is up (an https site redirects this to https).
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/wp-login.php")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not come up")

    def stop(self, name):
        run("nginx", "-c", self.sites[name]["nginx_conf"], "-p", self.work, "-s", "stop")
        time.sleep(0.2)

    def php(self, name, *args):
        env = dict(os.environ, SITE_URL=self.sites[name]["url"])
        return run("php", *args, env=env)

    def wp(self, name, command, php_args=(), **args):
        """Runs tests/e2e/wp.php COMMAND on a site (php_args: e.g. ("-d", "ffi.enable=0") for a PHP
        without FFI); returns its JSON result."""
        out = self.php(name, *php_args, os.path.join(os.path.dirname(__file__), "wp.php"), self.sites[name]["path"], command,
                       json.dumps(args))
        return json.loads(out)

    def wp_async(self, name, command, **args):
        """Starts tests/e2e/wp.php COMMAND on a site in the background; returns the Popen."""
        env = dict(os.environ, SITE_URL=self.sites[name]["url"])
        return subprocess.Popen(["php", os.path.join(os.path.dirname(__file__), "wp.php"), self.sites[name]["path"], command,
                                 json.dumps(args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def cron(self, name, watch=0):
        """Starts the plugin's system-cron entry point for a site (bin/usersync-deliver.php, as a
        crontab line would run it); returns the Popen."""
        script = os.path.join(self.sites[name]["path"], "wp-content", "plugins", "usersync", "bin", "usersync-deliver.php")
        return subprocess.Popen(["php", script, f"--watch={watch}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _nginx_pids(self, name):
        with open(os.path.join(self.work, f"nginx-{name}.pid")) as f:
            master = int(f.read().strip())
        workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        return [master] + [int(w) for w in workers]

    def freeze(self, name):
        """A hung site: its nginx stops (SIGSTOP) with its sockets open, so connections are
        accepted by the kernel and never answered."""
        for pid in self._nginx_pids(name):
            os.kill(pid, 19)

    def thaw(self, name):
        for pid in self._nginx_pids(name):
            os.kill(pid, 18)

    def _mariadb(self, *args):
        # UTF-8 whatever the locale (the client's charset follows the locale by default).
        return run("mariadb", f"--socket={self.db}/mysqld.sock", "--default-character-set=utf8mb4", "-u", "root", "-N", "-B", *args)

    def sql(self, query):
        """One value from the sites' MariaDB (as root, over the socket)."""
        return self._mariadb("-e", query).strip()

    def sql_rows(self, query):
        """Rows of tab-separated columns, unescaped (JSON columns come through intact)."""
        return [line.split("\t") for line in self._mariadb("-r", "-e", query).splitlines()]

    def post(self, name, path, body, source="127.0.0.1"):
        """POSTs raw bytes from a given loopback source address; returns (status, JSON)."""
        cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--interface", source, "-H", "Content-Type: text/plain",
               "--data-binary", "@-", self.sites[name]["internal"] + path]
        out = subprocess.run(cmd, input=body, text=True, capture_output=True, check=True).stdout
        text, _, code = out.rpartition("\n")
        try:
            return int(code), json.loads(text)
        except json.JSONDecodeError:
            return int(code), text

    def close(self):
        for name in list(self.sites):
            try:
                self.stop(name)
            except subprocess.CalledProcessError:
                pass
        for pid_file in [os.path.join(self.work, "fpm.pid")] + self.extra_fpms:
            try:
                with open(pid_file) as f:
                    os.kill(int(f.read().strip()), 15)
            except (OSError, ValueError):
                pass
        subprocess.run(["bash", os.path.join(ROOT, "scripts/wp/mariadb.sh"), "stop", self.db], check=False)
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)
