#!/usr/bin/env bash
# A privacyIDEA instance to benchmark mfad's OTP check against /validate/check, on 127.0.0.1.
#
#   privacyidea.sh start DIR USERS   set up DIR (SQLite database, keys, config, USERS users u0..
#                                    with one HOTP token each) and start gunicorn with one worker
#                                    per core; prints one line "URL SEEDSFILE" on stdout
#   privacyidea.sh stop DIR          stop that gunicorn and its workers, wait until they are gone
#
# SEEDSFILE is DIR/users.csv, lines "user,seed_hex": HOTP, SHA1, 6 digits, counter starting at 0,
# random seeds. Tokens have an empty PIN, so the form field pass is the code alone, and a fail
# counter limit of 10^9, so wrong codes never lock them. Everything else goes to stderr or DIR.
# PI_BENCH_PIN=none (default): the tokens have no PIN hash, which privacyIDEA checks as PIN ""
# without hashing; PI_BENCH_PIN=hashed: the PIN "" is stored as privacyIDEA's default argon2id
# hash (m=64 MiB, t=9), verified on every /validate/check, as for a token enrolled with a PIN.
# privacyIDEA and gunicorn live in target/privacyidea-venv (made once, then reused).
set -euo pipefail

PI_VERSION=3.14
GUNICORN_VERSION=27.0.1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$REPO/target/privacyidea-venv
READY_TIMEOUT=${PI_READY_TIMEOUT:-120} # seconds for all workers to load the app
STOP_TIMEOUT=30                        # seconds for a graceful stop before SIGKILL

die() { echo "privacyidea.sh: $*" >&2; exit 1; }
log() { echo "privacyidea.sh: $*" >&2; }

usage() {
  echo "usage: $0 start DIR USERS | $0 stop DIR" >&2
  exit 2
}

# Debian's python3 without python3-venv (which holds ensurepip) cannot make the venv; nothing
# else needs building (every dependency comes as a wheel).
ensure_debian_packages() {
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null; then return; fi
  command -v apt-get >/dev/null || die "python3 with the venv module is needed (no apt-get here)"
  log "installing python3 and python3-venv with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >&2
}

venv_is_ready() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$PI_VERSION" "$GUNICORN_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import gunicorn, privacyidea.app  # noqa: F401  (the imports are the check)
sys.exit(0 if (version("privacyidea"), version("gunicorn")) == tuple(sys.argv[1:]) else 1)
PY
}

# The versions this script was checked with; pinned so a new release of a dependency
# cannot change what is measured.
write_constraints() {
  cat > "$1" <<'TXT'
alembic==1.20.1
argon2-cffi==25.1.0
argon2-cffi-bindings==26.2.0
async-timeout==5.0.1
babel==2.19.0
bcrypt==5.0.0
beautifulsoup4==4.15.0
blinker==1.9.0
cbor2==6.3.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
click==8.5.1
configobj==5.0.9
croniter==7.0.0
cryptography==50.0.2
defusedxml==0.7.1
feedparser==6.0.14
feedparser-sgmllib==2.1.0
Flask==3.1.3
flask-babel==4.0.0
Flask-Migrate==4.1.0
Flask-SQLAlchemy==3.1.1
flask-talisman==1.1.0
google-auth==2.63.0
grpcio==1.85.3
huey==3.5.4
idna==3.20
itsdangerous==2.2.0
Jinja2==3.1.6
ldap3==2.8.1
lxml==6.1.3
Mako==1.4.3
MarkupSafe==3.0.4
msal==1.39.0
netaddr==1.3.0
passlib==1.7.4
protobuf==7.36.2
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pydash==8.1.0
PyJWT==2.15.1
PyMySQL==1.2.4
pyOpenSSL==26.4.0
pyrad==2.6.0
python-dateutil==4.0.0
python-gnupg==0.5.7
pytz==2026.6
PyYAML==6.0.4
redis==8.1.0
requests==2.34.2
rfc8785==0.1.4
segno==1.6.6
six==1.17.0
smpplib==2.2.4
soupsieve==2.10
SQLAlchemy==2.1.9
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
webauthn==3.0.1
Werkzeug==3.1.9
TXT
}

install_venv() {
  ensure_debian_packages
  log "installing privacyIDEA $PI_VERSION and gunicorn $GUNICORN_VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV" >&2
  local constraints
  constraints=$(mktemp)
  write_constraints "$constraints"
  "$VENV/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
    "privacyidea==$PI_VERSION" "gunicorn==$GUNICORN_VERSION" >&2 ||
    { rm -f "$constraints"; die "pip install failed"; }
  rm -f "$constraints"
  venv_is_ready || die "the new venv $VENV does not import privacyidea $PI_VERSION and gunicorn"
}

# One start at a time may build the venv; the others wait and then reuse it.
ensure_venv() {
  mkdir -p "$REPO/target"
  exec 9>"$REPO/target/privacyidea-venv.lock"
  flock -w 600 9 || die "timed out after 600 s waiting for another start to build $VENV"
  venv_is_ready || install_venv
  exec 9>&- # closing it drops the lock (and gunicorn does not inherit it)
}

pid_is_our_gunicorn() {
  local pid=$1 dir=$2
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-c $dir/gunicorn.conf.py"
}

# Writes DIR's pi.cfg, keys, logging config, passwd file and users.csv, creates the database,
# resolver, realm and tokens in one app context (a few seconds for 1000 users).
setup_instance() {
  local dir=$1 users=$2
  rm -f "$dir"/pi.sqlite* "$dir/users.csv" "$dir/passwd" "$dir/pi.cfg" "$dir/enckey" \
    "$dir"/audit-*.pem "$dir/logging.cfg" "$dir/port" "$dir/gunicorn.pid"
  rm -rf "$dir/ready"
  PYTHONWARNINGS=ignore "$VENV/bin/python" - "$dir" "$users" <<'PY' >&2
import datetime, os, secrets, sys, uuid
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

directory, users = sys.argv[1], int(sys.argv[2])
MAX_FAIL = 1000000000  # wrong codes must never lock a token
path = lambda name: os.path.join(directory, name)

def write(name, text, mode=0o600):
    fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)

def write_keys():
    write("enckey", secrets.token_bytes(96), 0o400)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write("audit-private.pem", key.private_bytes(serialization.Encoding.PEM,
          serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()), 0o400)
    write("audit-public.pem", key.public_key().public_bytes(serialization.Encoding.PEM,
          serialization.PublicFormat.SubjectPublicKeyInfo))

def write_config():
    settings = {
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + path("pi.sqlite"),
        # Workers wait for SQLite's write lock instead of failing after the default 5 s.
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"timeout": 30}},
        "SECRET_KEY": secrets.token_hex(32),
        "PI_PEPPER": secrets.token_hex(16),
        "PI_ENCFILE": path("enckey"),
        "PI_AUDIT_KEY_PRIVATE": path("audit-private.pem"),
        "PI_AUDIT_KEY_PUBLIC": path("audit-public.pem"),
        "PI_LOGCONFIG": path("logging.cfg"),
        "PI_LOGLEVEL": 30,
        "PI_NODE_UUID": str(uuid.uuid4()),  # else it would read or write /etc/privacyidea
        "PI_BASE_URL": "http://127.0.0.1",
        "SUPERUSER_REALM": ["superuser"],
    }
    write("pi.cfg", "".join(f"{k} = {v!r}\n" for k, v in settings.items()))
    write("logging.cfg", f"""[loggers]
keys=root,privacyidea
[handlers]
keys=file
[formatters]
keys=plain
[logger_root]
level=WARNING
handlers=file
[logger_privacyidea]
level=WARNING
handlers=file
qualname=privacyidea
propagate=0
[handler_file]
class=FileHandler
level=WARNING
formatter=plain
args=({path("privacyidea.log")!r},)
[formatter_plain]
format=%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s
""")

def write_users():
    seeds = [secrets.token_hex(20) for _ in range(users)]
    write("passwd", "".join(f"u{i}:x:{10000 + i}:{10000 + i}:User {i}:/nonexistent:/bin/false\n"
                            for i in range(users)), 0o644)
    write("users.csv", "".join(f"u{i},{seed}\n" for i, seed in enumerate(seeds)), 0o644)
    return seeds

def create_tokens(seeds, realm_id):
    # What init_token() stores for an HOTP token assigned to a user, written in one
    # transaction: init_token() commits about eight times per token (~30 ms each here).
    from privacyidea.lib.crypto import pass_hash
    from privacyidea.models import db, Token, TokenInfo, TokenOwner, TokenRealm
    # "hashed": one argon2 hash of "" for all tokens (the salt is shared, the cost of
    # checking it is not); "none": no PIN hash at all, which privacyIDEA takes as PIN "".
    pin_hash = pass_hash("") if os.environ.get("PI_BENCH_PIN") == "hashed" else ""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    tokens = []
    for i, seed in enumerate(seeds):
        token = Token(f"BENCH{i:06d}", tokentype="hotp", otplen=6, otpkey=seed)
        token.maxfail = MAX_FAIL
        token.pin_hash = pin_hash
        token.rollout_state = "enrolled"
        tokens.append(token)
    db.session.add_all(tokens)
    db.session.flush()
    for i, token in enumerate(tokens):
        db.session.add(TokenOwner(token_id=token.id, resolver="benchusers",
                                  user_id=str(10000 + i), realm_id=realm_id))
        db.session.add(TokenRealm(realm_id=realm_id, token_id=token.id))
        for key, value in (("assignment_date", now), ("tokenkind", "software"),
                           ("hashlib", "sha1"), ("creation_date", now)):
            db.session.add(TokenInfo(token.id, key, value))
    db.session.commit()

def create_database(seeds):
    from privacyidea.app import create_app
    from privacyidea.lib.config import set_privacyidea_config
    from privacyidea.lib.realm import get_realm_id, set_default_realm, set_realm
    from privacyidea.lib.resolver import save_resolver
    from privacyidea.models import db, NodeName
    app = create_app("production", config_file=path("pi.cfg"), silent=True)
    with app.app_context():
        db.create_all()
        with db.engine.connect() as conn:  # WAL: readers do not wait for the writer
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        # Every worker's create_app() merges this row; two workers inserting it at once
        # collide (UNIQUE constraint failed: nodename.id) and gunicorn gives up.
        db.session.merge(NodeName(id=app.config["PI_NODE_UUID"], name="localnode",
                                  lastseen=datetime.datetime.now(datetime.timezone.utc)))
        db.session.commit()
        set_privacyidea_config("DefaultMaxFailCount", MAX_FAIL)
        save_resolver({"resolver": "benchusers", "type": "passwdresolver",
                       "fileName": path("passwd")})
        set_realm("bench", [{"name": "benchusers"}])
        set_default_realm("bench")
        create_tokens(seeds, get_realm_id("bench"))

write_keys()
write_config()
create_database(write_users())
PY
}

# The hooks tell the script the port (bound as :0, so no race for a free one) and which
# workers have loaded the app.
write_gunicorn_config() {
  local dir=$1 workers=$2
  mkdir -p "$dir/ready"
  cat > "$dir/gunicorn.conf.py" <<PY
import os
here = os.path.dirname(os.path.abspath(__file__))
bind = "127.0.0.1:0"
workers = $workers
control_socket_disable = True  # else every instance would share ~/.gunicorn/gunicorn.ctl
pidfile = os.path.join(here, "gunicorn.pid")
def when_ready(server):
    with open(os.path.join(here, "port"), "w") as f:
        f.write(str(server.LISTENERS[0].getsockname()[1]))
def post_worker_init(worker):
    open(os.path.join(here, "ready", str(worker.pid)), "w").close()
PY
}

start_gunicorn() {
  local dir=$1
  (cd "$dir" && PRIVACYIDEA_CONFIGFILE="$dir/pi.cfg" PYTHONWARNINGS=ignore exec setsid \
    "$VENV/bin/gunicorn" -c "$dir/gunicorn.conf.py" \
    'privacyidea.app:create_app(config_name="production", silent=True)') \
    < /dev/null >> "$dir/gunicorn.log" 2>&1 &
  GUNICORN_PID=$! # the master: the subshell and setsid exec into it
}

# Bounded: the master must bind, every worker must load the app, and /healthz/ must answer.
wait_until_ready() {
  local dir=$1 workers=$2 deadline=$((SECONDS + READY_TIMEOUT))
  while :; do
    if [ -s "$dir/port" ] && [ "$(find "$dir/ready" -type f | wc -l)" -ge "$workers" ] &&
      "$VENV/bin/python" -c "import sys, urllib.request as u
u.urlopen('http://127.0.0.1:' + sys.argv[1] + '/healthz/', timeout=5)" "$(cat "$dir/port")" 2>/dev/null
    then return; fi
    kill -0 "$GUNICORN_PID" 2>/dev/null || die "gunicorn exited during startup; see $dir/gunicorn.log"
    [ "$SECONDS" -lt "$deadline" ] ||
      { stop "$dir" || true; die "gunicorn not ready within $READY_TIMEOUT s; see $dir/gunicorn.log"; }
    sleep 0.2
  done
}

start() {
  local dir=$1 users=$2
  [[ "$users" =~ ^[1-9][0-9]*$ ]] || die "USERS must be a positive integer, not '$users'"
  case ${PI_BENCH_PIN:=none} in none | hashed) ;; *) die "PI_BENCH_PIN must be none or hashed" ;; esac
  export PI_BENCH_PIN
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -s "$dir/gunicorn.pid" ] && pid_is_our_gunicorn "$(cat "$dir/gunicorn.pid")" "$dir"; then
    die "a gunicorn of $dir is still running (pid $(cat "$dir/gunicorn.pid")); stop it first"
  fi
  ensure_venv
  local t0=$SECONDS workers
  setup_instance "$dir" "$users"
  log "set up $users users and tokens in $((SECONDS - t0)) s"
  workers=$(nproc)
  write_gunicorn_config "$dir" "$workers"
  : > "$dir/gunicorn.log"
  start_gunicorn "$dir"
  wait_until_ready "$dir" "$workers"
  log "gunicorn (pid $(cat "$dir/gunicorn.pid"), $workers workers) ready after $((SECONDS - t0)) s"
  echo "http://127.0.0.1:$(cat "$dir/port") $dir/users.csv"
}

children_of() {
  grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3 || true
}

# Waits until none of the given pids is alive; after $1 seconds prints those left and fails.
wait_gone() {
  local deadline=$((SECONDS + $1)) p alive
  shift
  while :; do
    alive=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    [ "$SECONDS" -lt "$deadline" ] || { echo "${alive[*]}"; return 1; }
    sleep 0.2
  done
}

stop() {
  local dir=$1
  [ -d "$dir" ] || die "no directory $dir"
  dir=$(cd "$dir" && pwd)
  [ -s "$dir/gunicorn.pid" ] || { log "no $dir/gunicorn.pid: nothing to stop"; return 0; }
  local pid pids left
  pid=$(cat "$dir/gunicorn.pid")
  if ! pid_is_our_gunicorn "$pid" "$dir"; then
    log "pid $pid of $dir/gunicorn.pid is not its gunicorn (any more): nothing to stop"
    rm -f "$dir/gunicorn.pid"
    return 0
  fi
  mapfile -t pids < <(echo "$pid"; children_of "$pid")
  kill -TERM "$pid" # the master stops its workers gracefully
  if ! left=$(wait_gone "$STOP_TIMEOUT" "${pids[@]}"); then
    log "still running after $STOP_TIMEOUT s: $left; sending SIGKILL"
    read -ra pids <<< "$left"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    left=$(wait_gone 10 "${pids[@]}") || die "could not stop pids $left"
  fi
  rm -f "$dir/gunicorn.pid"
  log "stopped gunicorn $pid and its workers"
}

case ${1:-} in
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
