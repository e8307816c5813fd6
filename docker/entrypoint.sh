#!/usr/bin/env bash
# Entry point of the renderfarm image (docker-compose.yml).
#
#   entrypoint.sh coordinator ARGS...  waits for PostgreSQL and the object store, then runs the coordinator
#   entrypoint.sh worker ARGS...       waits for the coordinator, then runs a worker
#   entrypoint.sh health [URL]         exits 0 when URL (default http://127.0.0.1:5080/health) answers 200
#   entrypoint.sh ARGS...              runs renderfarm ARGS as given
#
# Waiting is bounded (RENDERFARM_WAIT_SECONDS, default 120): a dependency that never comes up ends the container
# with one line, and the restart policy tries again. Only bash built-ins are used (/dev/tcp), so the image needs
# no curl or netcat.
set -euo pipefail

RENDERFARM="${RENDERFARM_PROGRAM:-dotnet /app/renderfarm.dll}"
WAIT_SECONDS="${RENDERFARM_WAIT_SECONDS:-120}"

log() { printf 'entrypoint: %s\n' "$*" >&2; }

# host and port of an http(s) URL: http://minio:9000/x -> "minio 9000"
host_port() {
  local url="$1" rest host port
  rest="${url#*://}"
  rest="${rest%%/*}"
  host="${rest%%:*}"
  if [[ "$rest" == *:* ]]; then port="${rest##*:}"; elif [[ "$url" == https://* ]]; then port=443; else port=80; fi
  printf '%s %s\n' "$host" "$port"
}

# Waits until a TCP connection to HOST PORT opens, or gives up after WAIT_SECONDS.
wait_for() {
  local what="$1" host="$2" port="$3" waited=0
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if (( waited >= WAIT_SECONDS )); then
      log "$what at $host:$port did not answer within ${WAIT_SECONDS}s; giving up (the restart policy tries again)"
      exit 1
    fi
    sleep 2
    waited=$(( waited + 2 ))
  done
  log "$what at $host:$port answers"
}

# GET URL over plain HTTP with bash alone; succeeds on a 200 answer.
http_ok() {
  local url="$1" host port path status
  read -r host port < <(host_port "$url")
  path="/${url#*://*/}"
  [[ "$url" == *://*/* ]] || path="/"
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$host" >&3
  read -r -t 10 _ status _ <&3 || { exec 3>&-; return 1; }
  # Read the rest, so the server is not cut off mid-answer.
  while read -r -t 10 _ <&3; do :; done
  exec 3>&-
  [[ "$status" == 200 ]]
}

postgres_host() {
  # Host=db;Port=5432;... -> "db 5432"
  local connection="$1" host=localhost port=5432 part
  IFS=';' read -ra parts <<< "$connection"
  for part in "${parts[@]}"; do
    case "${part,,}" in
      host=*|server=*) host="${part#*=}" ;;
      port=*) port="${part#*=}" ;;
    esac
  done
  printf '%s %s\n' "$host" "$port"
}

command="${1:-}"
case "$command" in
  health)
    http_ok "${2:-http://127.0.0.1:5080/health}"
    ;;
  coordinator)
    if [[ -n "${ConnectionStrings__Postgres:-}" ]]; then
      read -r host port < <(postgres_host "$ConnectionStrings__Postgres")
      wait_for PostgreSQL "$host" "$port"
    fi
    if [[ -n "${Storage__S3__ServiceUrl:-}" ]]; then
      read -r host port < <(host_port "$Storage__S3__ServiceUrl")
      wait_for "the object store" "$host" "$port"
    fi
    exec $RENDERFARM "$@"
    ;;
  worker)
    coordinator=""
    previous=""
    for argument in "$@"; do
      [[ "$previous" == "--coordinator" ]] && coordinator="$argument"
      previous="$argument"
    done
    if [[ -n "$coordinator" ]]; then
      waited=0
      until http_ok "${coordinator%/}/health" 2>/dev/null; do
        if (( waited >= WAIT_SECONDS )); then
          log "the coordinator at $coordinator is not healthy after ${WAIT_SECONDS}s; giving up (the restart policy tries again)"
          exit 1
        fi
        sleep 2
        waited=$(( waited + 2 ))
      done
      log "the coordinator at $coordinator is healthy"
    fi
    exec $RENDERFARM "$@"
    ;;
  *)
    exec $RENDERFARM "$@"
    ;;
esac
