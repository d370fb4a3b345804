"""A real Django site on this machine for the end-to-end tests and the demo: the project
python-bindings/django_site with the usersync app installed from the wheel into the venv
(scripts/django/venv.sh), gunicorn behind its own nginx, both on loopback ports, and
its own database on a private PostgreSQL (scripts/postgres.sh) or SQLite. Secrets reach it
only through its environment (USERSYNC_SECRETS_<PEER>). Nothing listens on anything but
127.0.0.1 (PostgreSQL on a Unix socket only)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*cmd: str, **kw: Any) -> str:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def venv() -> str:
    """The venv's python (made or refreshed by scripts/django/venv.sh)."""
    return run("bash", os.path.join(ROOT, "scripts", "django", "venv.sh")).strip().splitlines()[-1]


class DjangoSite:
    def __init__(self, work: str, name: str, port: int, usersync: Dict[str, Any], secrets: Dict[str, str],
                 python: Optional[str] = None, postgres: bool = True, tls: Optional[Tuple[str, str, str]] = None) -> None:
        """tls: (host, certificate, key) — the site is then https://host:port for browsers, and
        http://127.0.0.1:port+2000 (``url``) for server-to-server posts and the tests' own calls."""
        self.work = os.path.join(work, f"django-{name}")
        os.makedirs(self.work, exist_ok=True)
        os.chmod(self.work, 0o755)
        self.name, self.port, self.tls = name, port, tls
        self.url = f"http://127.0.0.1:{port + 2000}" if tls else f"http://127.0.0.1:{port}"
        self.public = f"https://{tls[0]}:{port}" if tls else self.url
        self.python = python or venv()
        # gunicorn on loopback TCP, not a Unix socket: the app sees nginx's address (a trusted
        # proxy) and takes the client's from X-Forwarded-For, as ip_allow needs.
        self.upstream = f"127.0.0.1:{port + 1000}"
        self.settings_file = os.path.join(self.work, "usersync.json")
        with open(self.settings_file, "w") as f:
            json.dump(usersync, f)  # no secrets in it: they come from the environment
        self.env = dict(os.environ, DJANGO_SETTINGS_MODULE="django_site.settings",
                        PYTHONPATH=os.path.join(ROOT, "python-bindings"),  # the project; the app is the wheel's
                        DJANGO_SECRET_KEY=os.urandom(32).hex(),
                        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost" + (f",{tls[0]}" if tls else ""),
                        DJANGO_SECURE="proxy",  # nginx says whether a request came over HTTPS
                        USERSYNC_SETTINGS=self.settings_file)
        self.env.pop("USERSYNC_LIBRARY", None)
        for peer, secret in secrets.items():
            self.env["USERSYNC_SECRETS_" + "".join(c if c.isalnum() else "_" for c in peer.upper())] = secret
        self.pg: Optional[str] = None
        if postgres:
            self.pg = os.path.join(work, "pg")
            run("bash", os.path.join(ROOT, "scripts", "postgres.sh"), "start", self.pg)
            db = f"django_{name}"
            run("psql", "-h", self.pg, "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {db}")
            run("psql", "-h", self.pg, "-U", "postgres", "-qc", f"CREATE DATABASE {db}")
            self.env.update(DJANGO_DB_HOST=self.pg, DJANGO_DB_NAME=db, DJANGO_DB_USER="postgres")
        else:
            self.env["DJANGO_SQLITE"] = os.path.join(self.work, "db.sqlite3")
        self.manage("migrate", "--noinput", "-v", "0")

    # ---- running ---------------------------------------------------------------------------

    def start(self) -> None:
        run(os.path.join(os.path.dirname(self.python), "gunicorn"), "--daemon", "--bind", self.upstream,
            "--no-control-socket", "--workers", "3", "--pid", os.path.join(self.work, "gunicorn.pid"),
            "--error-logfile", os.path.join(self.work, "gunicorn.log"), "--chdir", os.path.join(ROOT, "python-bindings"),
            "django_site.wsgi:application", env=self.env)
        conf = os.path.join(self.work, "nginx.conf")
        listens = [f"127.0.0.1:{self.port}"]
        if self.tls:
            listens = [f"127.0.0.1:{self.port} ssl;\n        ssl_certificate {self.tls[1]};\n        ssl_certificate_key {self.tls[2]}",
                       f"127.0.0.1:{self.port + 2000}"]
        servers = "".join(f"""
    server {{
        listen {listen};
        location / {{
            proxy_pass http://{self.upstream};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_redirect off;
        }}
    }}""" for listen in listens)
        with open(conf, "w") as f:
            f.write(f"""daemon on;
pid {self.work}/nginx.pid;
error_log {self.work}/nginx-error.log;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_max_body_size 2m;{servers}
}}
""")
        self.nginx_conf = conf
        run("nginx", "-c", conf, "-p", self.work)
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]), timeout=2)
                c.request("GET", "/accounts/login/")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Django site {self.name} did not come up; see {self.work}/gunicorn.log")

    def stop(self) -> None:
        if getattr(self, "nginx_conf", None):
            subprocess.run(["nginx", "-c", self.nginx_conf, "-p", self.work, "-s", "stop"], check=False, capture_output=True)
        try:
            with open(os.path.join(self.work, "gunicorn.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self.stop()
        if self.pg:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "postgres.sh"), "stop", self.pg], check=False)

    # ---- acting on the site ----------------------------------------------------------------

    def manage(self, *args: str, usersync: bool = True) -> str:
        env = dict(self.env) if usersync else {k: v for k, v in self.env.items() if k != "USERSYNC_SETTINGS"}
        return run(self.python, os.path.join(ROOT, "python-bindings", "django_site", "manage.py"), *args, env=env)

    def do(self, command: str, usersync: bool = True, **args: Any) -> Any:
        """Runs scripts/django/dj.py COMMAND on the site (its models, as the site's own code
        would); returns its JSON result. usersync=False: as before the site was linked."""
        env = dict(self.env) if usersync else {k: v for k, v in self.env.items() if k != "USERSYNC_SETTINGS"}
        out = run(self.python, os.path.join(ROOT, "scripts", "django", "dj.py"), command, json.dumps(args), env=env)
        return json.loads(out)

    def sql(self, query: str) -> List[List[str]]:
        assert self.pg, "sql() needs PostgreSQL"
        out = run("psql", "-h", self.pg, "-U", "postgres", "-d", self.env["DJANGO_DB_NAME"], "-AtF", "\t", "-c", query)
        return [line.split("\t") for line in out.splitlines() if line]
