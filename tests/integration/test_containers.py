"""mmapwatch in real Docker containers, as a sidecar or an ephemeral debug
container uses it (docs/kubernetes.md: the recipes there are the commands
these tests run).

Nothing is pulled: every image is FROM scratch, built here from the static
mmapwatch (the local-binary scripts/Dockerfile.local, as the docs say) and
from static fixtures (build/fixtures-static):
- ct_arenas: the application. Named threads map arenas on command (a FIFO
  in a volume shared with the test) and write their truth into that volume.
- ct_pause: PID 1 of the "pod" (what Kubernetes' pause container is): the
  application's and mmapwatch's containers join its PID namespace
  (--pid=container:NAME), so the application can restart or be OOM-killed
  without taking the namespace, and mmapwatch in it, down.
- cg_grow (test_cgroup.py's fixture): memory that grows on command, in a
  container with --memory, until the cgroup OOM-kills it.
- a JVM running tests/java's Netty program (test_jvm.py's checks), in an
  image assembled from this machine's JDK and Netty jars.

mmapwatch's container gets only --cap-add SYS_PTRACE on top of Docker's
defaults (its default seccomp profile and capability set: checked with
docker inspect). Its events are its stdout, read through `docker run`;
dumps go to a bind-mounted volume and are read from the host.

dockerd is started (scripts/dockerd.sh) when no daemon answers; the tests
skip only when it cannot run here. Every container gets a name unique to
this run and is removed at the end of its test; the images are removed
when the run ends.
"""
import atexit
import contextlib
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import time

import harness
from harness import WAIT_S, Skip, hexaddr, read_truth, spawn, tmpdir, truth_of
import test_cgroup as cgt

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MIB = 1024 * 1024
# mmapwatch's arguments in the two layouts, as docs/kubernetes.md gives them
# (test_container_docs_recipes checks that it does).
EPHEMERAL_ARGS = ["--json", "--output=-", "-p", "1", "--min-size=1M",
                  "--dump-dir=/dumps/mmapwatch", "--delay=1h"]
POD_ARGS = ["--json", "--output=-", "--comm=cg_grow", "--wait", "--min-size=1M",
            "--dump-dir=/dumps/mmapwatch", "--delay=1h", "--cgroup-threshold=40%",
            "--dump-on-threshold"]
PAGE = 4096
RUN_ID = secrets.token_hex(4)
# The legacy builder: it is in every Docker client, and FROM scratch needs
# nothing BuildKit adds.
DOCKER_ENV = dict(os.environ, DOCKER_BUILDKIT="0")


def docker(*args, check=True, timeout=None, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    r = subprocess.run([shutil.which("docker"), *args], text=True, env=DOCKER_ENV,
                       timeout=timeout or WAIT_S * 2, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


_daemon = []  # None once checked: a daemon answers


def need_docker():
    if _daemon:
        if _daemon[0]:
            raise Skip(_daemon[0])
        return
    if not shutil.which("docker"):
        raise AssertionError("no docker client: scripts/deps.sh installs docker.io")
    r = subprocess.run([os.path.join(ROOT, "scripts", "dockerd.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    # dockerd.sh exits 1 when no daemon can run here (not root, no
    # overlay or cgroup support in a container of our own...): a skip,
    # with its reason.
    _daemon.append(None if r.returncode == 0 else
                   f"no Docker daemon can run here: {r.stdout.strip()}")
    if _daemon[0]:
        raise Skip(_daemon[0])


_images = {}


def _remove_images():
    for name in _images.values():
        docker("rmi", "-f", name, check=False)


def image(kind):
    """The mmapwatch image ("mmapwatch") or the fixtures' ("fixtures"),
    built once per run."""
    need_docker()
    if kind in _images:
        return _images[kind]
    name = f"mmapwatch-test-{kind}:{RUN_ID}"
    if not _images:
        atexit.register(_remove_images)
    if kind == "mmapwatch":
        # The recipe of docs/kubernetes.md for a locally built binary.
        ctx = os.path.dirname(os.environ.get("MMAPWATCH_STATIC") or
                              os.path.join(ROOT, "build", "static", "mmapwatch"))
        docker("build", "-q", "-f", os.path.join(ROOT, "scripts", "Dockerfile.local"),
               "-t", name, ctx)
    else:
        src = os.environ.get("STATIC_FIXTURE_DIR") or os.path.join(ROOT, "build",
                                                                    "fixtures-static")
        ctx = tmpdir()
        for f in ("ct_arenas", "ct_pause", "cg_grow"):
            if not os.access(os.path.join(src, f), os.X_OK):
                raise AssertionError(f"static fixture {src}/{f} not built (make fixtures)")
            shutil.copy(os.path.join(src, f), ctx)
        with open(os.path.join(ctx, "Dockerfile"), "w", encoding="ascii") as f:
            f.write("FROM scratch\nCOPY ct_arenas ct_pause cg_grow /\n")
        docker("build", "-q", "-t", name, ctx)
    _images[kind] = name
    return name


class Pod:
    """Containers of one test, named mwct-RUN-TEST-ROLE, all removed by
    close() whatever happened."""

    def __init__(self):
        self.prefix = f"mwct-{RUN_ID}-{secrets.token_hex(3)}"
        self.names = []

    def name(self, role):
        n = f"{self.prefix}-{role}"
        if n not in self.names:
            self.names.append(n)
        return n

    def run(self, role, *args):
        """docker run -d; returns the container's name."""
        name = self.name(role)
        docker("run", "-d", "--name", name, *args)
        return name

    def host_pid(self, name):
        return int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip())

    def close(self):
        if self.names:
            docker("rm", "-f", "-v", *self.names, check=False)


@contextlib.contextmanager
def pod():
    need_docker()
    p = Pod()
    try:
        yield p
    finally:
        p.close()


def shared_dir():
    """A directory for a volume: the fixture's truth and command FIFO."""
    d = tmpdir()
    os.chmod(d, 0o755)
    os.mkfifo(os.path.join(d, "cmd"), 0o600)
    return d


def send(d, command):
    """Writes one command byte to ct_arenas's FIFO, once a process has it
    open for reading (ENXIO until then: a restarting container)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            fd = os.open(os.path.join(d, "cmd"), os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != 6 or time.monotonic() > deadline:  # ENXIO: no reader yet
                raise
            time.sleep(0.02)
    try:
        os.write(fd, command.encode())
    finally:
        os.close(fd)


def wait_truth(d, pred, what):
    """The first record of DIR/truth that matches, once written (the file
    is the fixture's: it is read again until the record is there)."""
    path = os.path.join(d, "truth")
    deadline = time.monotonic() + WAIT_S
    while True:
        if os.path.exists(path):
            for rec in read_truth(path):
                if pred(rec):
                    return rec
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} in {path}: "
                                 f"{open(path).read() if os.path.exists(path) else 'none'}")
        time.sleep(0.02)


def sidecar(p, role, pid_of, *opts, volumes=()):
    """mmapwatch's container in the PID namespace of container pid_of,
    with SYS_PTRACE added and nothing else changed; its events read from
    `docker run`'s stdout."""
    name = p.name(role)
    vols = [a for v in volumes for a in ("-v", v)]
    ev = cgt.Events([shutil.which("docker"), "run", "--rm", "--name", name,
                     f"--pid=container:{pid_of}", "--cap-add", "SYS_PTRACE", *vols,
                     image("mmapwatch"), *opts], env=DOCKER_ENV)
    return name, ev


def check_defaults_only(name):
    """Docker's default seccomp profile and capabilities, plus SYS_PTRACE."""
    r = docker("inspect", "-f", "{{json .HostConfig.CapAdd}} {{json .HostConfig.SecurityOpt}} "
               "{{.HostConfig.Privileged}}", name)
    caps, secopt, privileged = r.stdout.split()
    assert caps in ('["SYS_PTRACE"]', '["CAP_SYS_PTRACE"]'), r.stdout
    assert secopt == "null" and privileged == "false", r.stdout


def check_arena_maps(events, d, pid, round_no, nthreads, arena_mib):
    """The mmap events of one round of ct_arenas: one per thread, with the
    thread's name, as its truth says."""
    wait_truth(d, lambda r: r["kind"] == "done" and r["round"] == round_no and r["pid"] == pid,
               f"round {round_no} of process {pid}")
    truth = [r for r in truth_of(read_truth(os.path.join(d, "truth")), "mmap")
             if r["pid"] == pid and r["len"] == arena_mib * MIB]
    assert len(truth) == nthreads * round_no, truth
    mine = truth[-nthreads:]
    got = {}
    for _ in mine:
        e = events.wait(lambda e: e["event"] == "mmap" and e["pid"] == pid and
                        e["len"] == arena_mib * MIB, f"the arenas of process {pid}")
        got[hexaddr(e["addr"])] = e
    for rec in mine:
        e = got.get(hexaddr(rec["addr"]))
        assert e, (rec, got)
        assert e["tid"] == rec["tid"] and e["comm"] == rec["comm"], (e, rec)
        assert re.fullmatch(r"ct-arena-\d+", e["comm"]), e
    return mine


def host_path(container_path, mount_point, host_dir):
    assert container_path.startswith(mount_point + "/"), container_path
    return os.path.join(host_dir, container_path[len(mount_point) + 1:])


def check_untraced(p, name):
    hp = p.host_pid(name)
    assert harness.tracer_pid(hp) == 0
    assert harness.proc_state(hp) in "SR", harness.proc_state(hp)


def test_container_sidecar_arenas():
    """The ephemeral-container recipe: mmapwatch -p 1 in the application
    container's PID namespace. Arenas caught with their thread names; at
    docker stop (SIGTERM) the pending dumps are made, into the volume,
    readable from the host, 0600 in a 0700 directory, holding what the
    threads wrote; the application runs on untraced."""
    nthreads, arena_mib = 3, 2
    with pod() as p:
        d, dumps = shared_dir(), tmpdir()
        target = p.run("app", "-v", f"{d}:/shared", image("fixtures"), "/ct_arenas", "/shared",
                       str(nthreads), str(arena_mib))
        pid = wait_truth(d, lambda r: r["kind"] == "start", "start")["pid"]
        assert pid == 1, pid  # the container's entrypoint: PID 1 there
        name, events = sidecar(p, "mmapwatch", target, *EPHEMERAL_ARGS,
                               volumes=[f"{dumps}:/dumps"])
        events.wait_kind("attach", pid=1)
        check_defaults_only(name)
        send(d, "a")
        arenas = check_arena_maps(events, d, 1, 1, nthreads, arena_mib)

        docker("stop", "-t", str(int(WAIT_S)), name)
        assert events.finish() == 0, events.stderr()
        events.wait_kind("detach", pid=1)
        dumped = {hexaddr(e["addr"]): e for e in events.all("dump")}
        assert set(dumped) == {hexaddr(r["addr"]) for r in arenas}, (dumped, arenas)
        top = os.path.join(dumps, "mmapwatch")
        assert stat.S_IMODE(os.stat(top).st_mode) == 0o700, oct(os.stat(top).st_mode)
        for rec in arenas:
            path = host_path(dumped[hexaddr(rec["addr"])]["path"], "/dumps", dumps)
            st = os.stat(path)
            assert stat.S_IMODE(st.st_mode) == 0o600, (path, oct(st.st_mode))
            with open(path, "rb") as f:
                data = f.read()
            assert len(data) == arena_mib * MIB, (path, len(data))
            for page in range(len(data) // PAGE):
                want = f"ct_arenas tid={rec['tid']} round=1 page={page}".encode()
                assert data[page * PAGE:page * PAGE + len(want)] == want, (path, page)

        check_untraced(p, target)
        send(d, "q")
        assert docker("wait", target).stdout.strip() == "0"


def test_container_restarts_followed():
    """The sidecar recipe (--comm --wait) in a pod-like layout: the
    application's container restarted with docker restart, then replaced
    (docker rm + run): each new process is attached and its arenas are
    caught, with thread names."""
    nthreads, arena_mib = 2, 1
    with pod() as p:
        d = shared_dir()
        pause = p.run("pause", image("fixtures"), "/ct_pause")
        _, events = sidecar(p, "mmapwatch", pause, "--json", "--output=-", "--comm=ct_arenas",
                            "--wait", "--min-size=1M", "--no-dump")
        app = ["--pid", f"container:{pause}", "-v", f"{d}:/shared", image("fixtures"),
               "/ct_arenas", "/shared", str(nthreads), str(arena_mib)]
        seen = set()

        def next_process(round_no):
            start = wait_truth(d, lambda r: r["kind"] == "start" and r["pid"] not in seen,
                               "a new process")
            seen.add(start["pid"])
            events.wait_kind("attach", pid=start["pid"])
            send(d, "a")
            check_arena_maps(events, d, start["pid"], round_no, nthreads, arena_mib)
            return start["pid"]

        target = p.run("app", *app)
        first = next_process(1)
        docker("restart", "-t", str(int(WAIT_S)), target)
        second = next_process(1)
        docker("rm", "-f", target)
        p.run("app2", *app)
        third = next_process(1)
        assert len({first, second, third}) == 3, (first, second, third)
        # docker restart: SIGTERM, which ct_arenas exits 0 on; docker rm -f: SIGKILL.
        exits = {e["pid"]: e for e in events.all("exit")}
        assert exits[first].get("status") == 0, exits
        assert exits[second].get("signal") == "SIGKILL", exits
        for pid in (first, second, third):
            targets = [e for e in events.all("target") if e["pid"] == pid]
            assert len(targets) == 1 and targets[0]["matched"] == "comm", targets
        docker("stop", "-t", str(int(WAIT_S)), p.name("mmapwatch"))
        assert events.finish() == 0, events.stderr()


def container_cgroup(p, name):
    """The container's memory cgroup as the host sees it (test_cgroup's
    MemoryCgroup, for its usage), and its path."""
    hp = p.host_pid(name)
    version = cgt.any_version()
    path = cgt.proc_cgroup_path(hp, version)
    for root, point, fstype, opts in harness.mounts():
        if (version == 1 and fstype == "cgroup" and "memory" in opts) or \
           (version == 2 and fstype == "cgroup2"):
            if root == "/":
                return cgt.MemoryCgroup(version, point + path), path
    raise AssertionError(f"no cgroup mount shows {path}")


def test_container_memory_limit_threshold_oom():
    """The sidecar recipe with --cgroup-threshold: the application in a
    container with --memory grows; mmapwatch, in its own container, finds
    the application's cgroup through /proc/PID/root, reports the crossing
    and dumps every arena at it (into its volume), then reports the OOM
    kill and the exit. Then the application comes back in a new container
    (a new cgroup, as the kubelet's restarts get): --wait attaches to it
    and the watch follows, so its crossing and OOM kill are reported too,
    naming the new process and the new cgroup; the first cgroup, removed
    after its process died, is left without a warning."""
    limit = 48 * MIB
    with pod() as p:
        dumps = tmpdir()
        pause = p.run("pause", image("fixtures"), "/ct_pause")
        _, events = sidecar(p, "mmapwatch", pause, *POD_ARGS, volumes=[f"{dumps}:/dumps"])
        paths = []
        for role in ("app", "app2"):
            paths.append(_grow_to_oom(p, role, pause, events, limit, dumps))
        assert paths[0] != paths[1], paths
        docker("stop", "-t", str(int(WAIT_S)), p.name("mmapwatch"))
        assert events.finish() == 0, events.stderr()
        assert "no longer watched" not in events.stderr(), events.stderr()


def _grow_to_oom(p, role, pause, events, limit, dumps):
    """One life of the application: up past 40% (checked event and dumps),
    then OOM-killed (checked events). Returns its cgroup as mmapwatch names
    it."""
    d = tmpdir()
    os.chmod(d, 0o755)
    app = p.name(role)
    proc = spawn([shutil.which("docker"), "run", "-i", "--rm", "--name", app,
                  "--pid", f"container:{pause}", "--memory", str(limit),
                  "--memory-swap", str(limit), "-v", f"{d}:/shared", image("fixtures"),
                  "/cg_grow", "/shared/truth", str(cgt.CHUNK_MIB)],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=DOCKER_ENV, bufsize=0)
    cg, path = container_cgroup_when_up(p, app, proc)
    kills_before = cg.oom_kills() or 0
    g = cgt.Grower(cg, p=proc, truth=os.path.join(d, "truth"))
    events.wait_kind("attach", pid=g.pid)
    threshold = limit * 40 // 100
    n, complete = g.grow_past(threshold)
    above = events.wait_kind("threshold", state="above")
    # The path as the sidecar's cgroup namespace shows it.
    seen_path = above["cgroup"]
    assert seen_path.endswith(os.path.basename(path)), (seen_path, path)
    cgt.check_above(above, g, seen_path, threshold, limit, g.chunks)
    assert above["percent"] == 40, above
    got = cgt.wait_threshold_dumps(events, above["dumps"])
    cgt.check_threshold_dumps(g, {a: host_path(v, "/dumps", dumps) for a, v in got.items()},
                              complete)
    for _ in range(64):
        if not g.command("g"):
            break
    else:
        raise AssertionError("cg_grow was never OOM-killed")
    oom = events.wait_kind("oom")
    assert oom["pid"] == g.pid and oom["cgroup"] == seen_path, oom
    assert oom["new_kills"] >= 1 and oom["oom_kill"] > kills_before, oom
    exit_ev = events.wait_kind("exit", pid=g.pid)
    assert exit_ev.get("signal") == "SIGKILL", exit_ev
    assert proc.wait(timeout=WAIT_S) == 137
    return seen_path


def container_cgroup_when_up(p, name, proc):
    """Waits until docker has the container running (docker run -i
    returns nothing until the program writes), then its cgroup."""
    deadline = time.monotonic() + WAIT_S
    while True:
        r = docker("inspect", "-f", "{{.State.Running}}", name, check=False)
        if r.returncode == 0 and r.stdout.strip() == "true":
            return container_cgroup(p, name)
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"container {name} did not start: rc={proc.poll()} "
                                 f"{r.stderr.strip()}")
        time.sleep(0.05)


def test_container_docs_recipes():
    """docs/kubernetes.md's docker commands give mmapwatch the arguments
    these tests give it (the application's name aside), with only
    SYS_PTRACE added and the PID namespace shared."""
    with open(os.path.join(ROOT, "docs", "kubernetes.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Trying it with Docker"):]
    commands = []
    for block in re.findall(r"((?:^ {4}.*\n)+)", section, re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [shlex.split(line, comments=True) for line in joined.splitlines()]
    runs = [c for c in commands if c[:2] == ["docker", "run"] and "mmapwatch:0.1.0" in c]
    assert len(runs) == 2, runs
    for run, want in zip(runs, (EPHEMERAL_ARGS, POD_ARGS)):
        args = run[run.index("mmapwatch:0.1.0") + 1:]
        assert [a.replace("--comm=java", "--comm=cg_grow") for a in args] == want, (args, want)
        opts = run[:run.index("mmapwatch:0.1.0")]
        assert "--cap-add" in opts and opts[opts.index("--cap-add") + 1] == "SYS_PTRACE", run
        assert not [o for o in opts if o.startswith(("--privileged", "--security-opt"))], run
        assert [o for o in opts if o.startswith("--pid=container:")], run


# ---------------------------------------------------------------------------
# a JVM in a container: the image is assembled from this machine's JDK and
# Netty jars (nothing pulled), and only what a headless JVM loads goes in

# The JDK's own libraries a headless Netty program loads (no AWT, sound,
# fonts): with the system libraries they link, that is the image.
JVM_LIBS = ("server/libjvm.so", "libjli.so", "libjava.so", "libjimage.so", "libzip.so",
            "libnet.so", "libnio.so", "libextnet.so", "libverify.so", "libmanagement.so",
            "libjsvml.so", "libsyslookup.so")
JDK_SKIP = ("jmods", "include", "man", "legal", "docs", "lib/src.zip")


def _ldd(path):
    r = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=WAIT_S)
    return re.findall(r"(/\S+) \(0x", r.stdout)


def jvm_image():
    """FROM scratch holding the JDK (less its jmods, headers, docs), the
    system libraries it links, the Netty jars and tests/java's program,
    each at its own path; a tar given to docker import."""
    import tarfile
    import test_jvm
    need_docker()
    if "jvm" in _images:
        return _images["jvm"]
    java = os.path.realpath(shutil.which("java") or "")
    assert os.path.exists(java), "no java: scripts/deps.sh installs default-jdk-headless"
    jdk = os.path.dirname(os.path.dirname(java))
    cmd = test_jvm.java_command("/shared/truth", "--wait-stdin")  # checks the jars and class
    classpath = cmd[cmd.index("-cp") + 1].split(":")
    paths = set()
    for lib in (java, *[os.path.join(jdk, "lib", f) for f in JVM_LIBS]):
        if os.path.exists(lib):
            paths.add(lib)
            paths.update(_ldd(lib))
    # Archive name -> file: symlinks are followed (their targets lie in /etc
    # and elsewhere), and each path goes in once.
    entries = {}
    for root, dirs, files in os.walk(jdk):
        rel_root = os.path.relpath(root, jdk)
        dirs[:] = [x for x in dirs if os.path.normpath(os.path.join(rel_root, x))
                   not in JDK_SKIP]
        for f in files:
            rel = os.path.normpath(os.path.join(rel_root, f))
            if rel in JDK_SKIP or (rel.startswith("lib/") and rel.endswith(".so") and
                                   rel[4:] not in JVM_LIBS):
                continue
            if os.path.exists(os.path.join(root, f)):
                entries[os.path.join(jdk, rel).lstrip("/")] = os.path.join(root, f)
    for path in sorted(paths) + [c for c in classpath if c.endswith(".jar")]:
        entries.setdefault(os.path.normpath(path).lstrip("/"), path)
    tar_path = os.path.join(tmpdir(), "jvm.tar")
    with tarfile.open(tar_path, "w", dereference=True) as tar:
        for arc, path in sorted(entries.items()):
            tar.add(path, arcname=arc, recursive=False)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    name = f"mmapwatch-test-jvm:{RUN_ID}"
    if not _images:
        atexit.register(_remove_images)
    with open(tar_path, "rb") as f:
        docker("import", "-", name, stdin=f, timeout=300)
    _images["jvm"] = name
    return name


def test_container_jvm():
    """The sidecar recipe against a real JVM running Netty in a container
    of its own (test_jvm.py's program and checks): every 16 MiB + 4 KiB
    chunk caught, from its event-loop thread, and dumped at the JVM's exit
    into mmapwatch's volume, holding what that thread kept; the JVM exits
    0 by itself."""
    import test_jvm
    with pod() as p:
        d, dumps = tmpdir(), tmpdir()
        os.chmod(d, 0o777)
        img = jvm_image()
        pause = p.run("pause", image("fixtures"), "/ct_pause")
        _, events = sidecar(p, "mmapwatch", pause, "--json", "--output=-", "--comm=java",
                            "--wait", "--min-size=16M", "--dump-dir=/dumps/mmapwatch",
                            "--delay=1h", volumes=[f"{dumps}:/dumps"])
        cmd = test_jvm.java_command("/shared/truth", "--wait-stdin")
        cmd[0] = os.path.realpath(shutil.which("java"))
        cmd[cmd.index("-cp") + 1] = cmd[cmd.index("-cp") + 1].replace(
            test_jvm.JAVA_DIR, "/app")
        app = p.name("app")
        proc = spawn([shutil.which("docker"), "run", "-i", "--rm", "--name", app,
                      "--pid", f"container:{pause}", "-e", "MALLOC_MMAP_THRESHOLD_=131072",
                      "-v", f"{d}:/shared", "-v", f"{test_jvm.JAVA_DIR}:/app:ro", img, *cmd],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     env=DOCKER_ENV, text=True)
        ready = harness.read_line(proc.stdout, test_jvm.RUN_TIMEOUT_S / 2)
        m = re.fullmatch(r"ready (\d+)\n", ready)
        assert m, f"the JVM did not get ready: {ready!r} rc={proc.poll()} " \
                  f"{proc.stderr.read() if proc.poll() is not None else ''}"
        pid = int(m.group(1))
        events.wait_kind("attach", pid=pid)
        harness.send_go(proc)
        out, err = proc.communicate(timeout=test_jvm.RUN_TIMEOUT_S)
        assert proc.returncode == 0, f"the JVM exited {proc.returncode}: {err!r}"
        events.wait_kind("exit", pid=pid)
        docker("stop", "-t", str(int(WAIT_S)), p.name("mmapwatch"))
        assert events.finish() == 0, events.stderr()
        evs = [dict(e) for e in events.events]
        for e in evs:
            if e["event"] == "dump":
                e["path"] = host_path(e["path"], "/dumps", dumps)
        truth = read_truth(os.path.join(d, "truth"))
        test_jvm.check_chunks(evs, truth, 16 * MIB, dumps=True)
        test_jvm.assert_exit_event(evs, pid)
