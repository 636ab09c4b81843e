#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (slurmctld + slurmd on localhost, munge authentication), for the
# tests that submit bench grids through a real Slurm. Run as root. Idempotent: a second call finds it running.
#
# Exit codes: 0 the node is idle and takes jobs; 3 the packages are not installed and cannot be (no apt, no
# registry): the caller may skip; 1 anything else (a daemon that does not start, a node that never turns idle).
#
# Settings (environment): SLURM_LOCAL_WAIT_S (seconds to wait for the node to be idle, default 60).
set -euo pipefail

readonly WAIT_S="${SLURM_LOCAL_WAIT_S:-60}"
readonly CONF_DIR=/etc/slurm
readonly STATE_DIR=/var/lib/slurm-local
readonly LOG_DIR=/var/log/slurm-local
readonly CLUSTER=local

say() { echo "start-local-cluster: $*" >&2; }
fail() { say "error: $*"; exit 1; }
cannot_install() { say "cannot install: $*"; exit 3; }

packages_present() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null
}

install_packages() {
  command -v apt-get >/dev/null || cannot_install "no apt-get on this machine (Debian 12's slurm-wlm and munge are needed)."
  export DEBIAN_FRONTEND=noninteractive
  local apt_options=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  # The packages' own start scripts must not run: there may be no init system, and this script starts the daemons
  # with its own configuration. policy-rc.d is how Debian says so; one made here is removed afterwards.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # Empty package lists (a fresh container) know no slurm-wlm, and stale ones name files the registry no longer has:
  # read them, then install.
  if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
    apt-get update -q >&2 || cannot_install "apt-get update failed (no package registry reachable?)."
  fi
  if ! apt-get install "${apt_options[@]}" slurm-wlm munge >&2; then
    apt-get update -q >&2 && apt-get install "${apt_options[@]}" slurm-wlm munge >&2 \
      || cannot_install "apt-get install slurm-wlm munge failed."
  fi
  packages_present || cannot_install "slurm-wlm and munge installed, but slurmctld, slurmd, sbatch or munged is missing."
}

node_state() { sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true; }

write_munge_key() {
  local key=/etc/munge/munge.key
  if [[ ! -s $key ]]; then
    mkdir -p /etc/munge
    # A fresh random key: this cluster has one node, so no other machine needs to share it.
    (umask 077; dd if=/dev/urandom of="$key.tmp" bs=1 count=1024 status=none && mv "$key.tmp" "$key")
  fi
  chown munge:munge "$key" 2>/dev/null || true
  chmod 400 "$key"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  # munged runs as its own user (the packaged service does); --force accepts a socket a killed munged left.
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start (see /var/log/munge/munged.log)."
  else
    /usr/sbin/munged --force || fail "munged did not start (see /var/log/munge/munged.log)."
  fi
  for _ in $(seq 1 20); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.25
  done
  fail "munged runs but a credential does not round-trip (munge -n | unmunge)."
}

write_config() {
  local host cpus memory_mb topology
  host=$(hostname -s)
  cpus=$(nproc)
  # slurmd's own view of the hardware (sockets, cores, threads, memory), so the node registers without a mismatch.
  topology=$(slurmd -C 2>/dev/null | head -n 1 | sed -E 's/^NodeName=[^ ]+ //; s/ ?UpTime=.*//')
  memory_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  [[ -n $topology ]] || topology="CPUs=$cpus RealMemory=$memory_mb"
  mkdir -p "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR"
  local conf="$CONF_DIR/slurm.conf"
  cat > "$conf.tmp" <<EOF
# Written by scripts/slurm/start-local-cluster.sh: one node, this machine.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=/run/slurmctld-local.pid
SlurmdPidFile=/run/slurmd-local.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 $topology State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
}

running() { pgrep -x "$1" >/dev/null; }

start_daemons() {
  if ! running slurmctld; then slurmctld || fail "slurmctld did not start (see $LOG_DIR/slurmctld.log)."; fi
  if ! running slurmd; then slurmd || fail "slurmd did not start (see $LOG_DIR/slurmd.log)."; fi
}

wait_until_idle() {
  local deadline=$((SECONDS + WAIT_S)) state=""
  while ((SECONDS < deadline)); do
    state=$(node_state)
    case $state in
      idle|mix|alloc) return 0 ;;
      # A node that was down (a restart, an earlier failure) is given back to the scheduler once.
      down*|drain*|drng*|fail*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  fail "the node is not idle after ${WAIT_S} s (sinfo state: '${state:-none}'; logs: $LOG_DIR/slurmctld.log, $LOG_DIR/slurmd.log)."
}

# Already up (a second call): nothing to do.
if packages_present && [[ $(node_state) =~ ^(idle|mix|alloc)$ ]]; then
  say "running: node $(hostname -s) is $(node_state)."
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  packages_present || cannot_install "slurm-wlm and munge are missing and only root can install them."
  fail "must run as root to start munged, slurmctld and slurmd."
fi
packages_present || install_packages
write_munge_key
start_munge
# The configuration is rewritten only while no controller runs: a running one keeps the file it read.
running slurmctld || write_config
start_daemons
wait_until_idle
say "started: node $(hostname -s) is $(node_state) (config $CONF_DIR/slurm.conf, logs $LOG_DIR)."
