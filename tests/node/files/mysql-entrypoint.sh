#!/bin/bash
# docker-entrypoint.sh of the stand-in for mysql:8.0.28 in the real-node tests (tests/node/images.py): OURS, not the
# official image's. It keeps the contract components/mysql.py and fate-pulumi backup/restore rely on, as the
# official script (docker-library/mysql 8.0 docker-entrypoint.sh) defines it: started as root, it makes the data and
# socket directories the mysql user's and restarts itself as that user (gosu); on an empty data directory it
# initialises the server (here MariaDB's mariadb-install-db, there `mysqld --initialize-insecure`), then, on a
# temporary server without networking: the root password (MYSQL_ROOT_PASSWORD, or a generated one with
# MYSQL_RANDOM_ROOT_PASSWORD), root@'%' (MYSQL_ROOT_HOST, default %), MYSQL_DATABASE, MYSQL_USER@'%' with
# MYSQL_PASSWORD and ALL on MYSQL_DATABASE, then /docker-entrypoint-initdb.d/*.sql into MYSQL_DATABASE and *.sh
# sourced; then it execs the command. Left out: the time zone tables, the *_FILE variables, compressed init files.
set -eo pipefail
shopt -s nullglob

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
fail() { printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; exit 1; }

if [ "${1:0:1}" = '-' ]; then
  set -- mysqld "$@"
fi
if [ "$1" != 'mysqld' ] && [ "$1" != 'mariadbd' ]; then
  exec "$@"
fi

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

if [ "$(id -u)" = '0' ]; then
  mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
  find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown --no-dereference mysql '{}' +
  note "Switching to dedicated user 'mysql'"
  exec gosu mysql "$BASH_SOURCE" "$@"
fi

sql() {  # as root over the socket; the password once it is set
  local pass=()
  [ -n "$ROOT_SET" ] && [ -n "$MYSQL_ROOT_PASSWORD" ] && pass=(--password="$MYSQL_ROOT_PASSWORD")
  mariadb --protocol=socket -uroot -hlocalhost --socket="$SOCKET" "${pass[@]}" --comments "$@"
}

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
    fail "Database is uninitialized and password option is not specified"
  fi
  [ "$MYSQL_USER" = 'root' ] && fail 'MYSQL_USER="root": MYSQL_USER and MYSQL_PASSWORD are for a regular user'
  ls /docker-entrypoint-initdb.d/ > /dev/null
  note "Initializing database files"
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db \
    --skip-name-resolve > /dev/null
  note "Starting temporary server"
  "$@" --skip-networking --socket="$SOCKET" &
  pid=$!
  for _ in $(seq 60); do
    mariadb-admin --socket="$SOCKET" -uroot ping > /dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || fail "Unable to start server."
    sleep 1
  done
  if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
    MYSQL_ROOT_PASSWORD="$(head -c 18 /dev/urandom | base64)"
    note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi
  ROOT_HOST="${MYSQL_ROOT_HOST:-%}"
  root_create=
  if [ "$ROOT_HOST" != 'localhost' ]; then
    root_create="CREATE USER 'root'@'${ROOT_HOST}' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
GRANT ALL ON *.* TO 'root'@'${ROOT_HOST}' WITH GRANT OPTION;"
  fi
  sql --database=mysql <<-EOSQL
	ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
	GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
	FLUSH PRIVILEGES;
	${root_create}
	DROP DATABASE IF EXISTS test;
	EOSQL
  ROOT_SET=1
  if [ -n "$MYSQL_DATABASE" ]; then
    note "Creating database ${MYSQL_DATABASE}"
    sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
  fi
  if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
    note "Creating user ${MYSQL_USER}"
    sql --database=mysql <<<"CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';"
    if [ -n "$MYSQL_DATABASE" ]; then
      note "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
      sql --database=mysql <<<"GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%';"
    fi
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) note "$0: sourcing $f"; . "$f" ;;
      *.sql) note "$0: running $f"; sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} < "$f" ;;
      *) note "$0: ignoring $f" ;;
    esac
  done
  note "Stopping temporary server"
  mariadb-admin --socket="$SOCKET" -uroot --password="$MYSQL_ROOT_PASSWORD" shutdown
  wait "$pid" || true
  note "MySQL init process done. Ready for start up."
fi
exec "$@"
