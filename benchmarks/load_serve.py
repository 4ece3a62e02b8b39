"""Load test of the classify service on loopback: throughput, latency percentiles, memory, kill-and-restart.

Starts ``cur-nlp serve`` on 127.0.0.1 in a subprocess and runs, each bounded in time:

1. single-post requests from 1, 8 and 32 concurrent clients (closed loop: each client sends its next request
   when the previous one answers);
2. 64-post batch requests;
3. RSS of the server before and after ``--posts`` posts (sent as 64-post batches), sampled along the way;
4. kill -9 of the server during a load run from 8 clients, immediate restart: how long until it serves again,
   what the clients saw (errors, retries) and that every client finished (timeouts everywhere, nothing hangs).

Prints a table and writes everything as JSON to ``--out``::

    python benchmarks/load_serve.py --model models/default --posts 100000 --out reports/load_serve.json
    python benchmarks/load_serve.py --model /tmp/tiny_model --posts 3000 --duration 8 --out /tmp/load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent

STREETS = ["Ленина", "Советская", "Мира", "Гагарина", "Пушкина", "Кирова", "Победы", "Садовая", "Лесная", "Школьная"]
TEMPLATES = [
    "Во дворе дома {n} на улице {s} открыт люк, дети играют рядом.",
    "В подъезде дома {n} по улице {s} не работает лифт уже неделю, пожилые люди не могут выйти.",
    "На тротуаре у дома {n} гололёд, люди падают, никто не посыпает.",
    "Спасибо за ремонт детской площадки на улице {s}!",
    "Мусор не вывозят третий день, контейнеры у дома {n} переполнены, крысы бегают.",
    "Яма на дороге у остановки на улице {s}, машины бьют колёса, уже {n} аварий.",
    "Граффити на стене дома {n}, закрасьте пожалуйста.",
    "В поликлинике на {s} нельзя записаться к врачу, телефон не отвечает.",
    "Отключили горячую воду в доме {n} без предупреждения, когда дадут?",
    "Автобус номер {n} не ходит по расписанию, ждём по сорок минут на морозе.",
    "Говорят, что в городе закроют все школы на карантин с понедельника, это правда?",
    "Упало дерево на провода у дома {n} по улице {s}, искрит, очень опасно!",
    "Когда починят освещение на улице {s}? Вечером идти страшно, темно.",
    "Управляющая компания не реагирует на жалобы, крыша течёт, в квартире {n} плесень.",
]


def make_posts(count: int, seed: int = 0) -> list[str]:
    """Synthetic posts of realistic length: one to four template sentences with random numbers and streets."""
    rng = random.Random(seed)
    posts = []
    for _ in range(count):
        sentences = [rng.choice(TEMPLATES).format(n=rng.randint(1, 150), s=rng.choice(STREETS))
                     for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4)))]
        posts.append(" ".join(sentences))
    return posts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (psutil when available, else /proc)."""
    try:
        import psutil

        process = psutil.Process(pid)
        return (process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))) / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """``cur-nlp serve`` in a subprocess on 127.0.0.1; its log goes to a file."""

    def __init__(self, model: str | None, port: int, log_path: Path, env: dict[str, str]) -> None:
        self.model = model
        self.port = port
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "cur_nlp.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.model:
            command += ["--model", self.model]
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env})

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Seconds until ``/ready`` answers 200; raises if the process dies or the timeout passes."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/ready", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready within {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    posts: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def summarise(tally: Tally, seconds: float, requests_label: str = "requests") -> dict[str, Any]:
    lat = np.array(tally.latencies) * 1000 if tally.latencies else np.array([np.nan])
    return {
        "seconds": round(seconds, 2),
        requests_label: len(tally.latencies),
        "posts": tally.posts,
        "requests_per_s": round(len(tally.latencies) / seconds, 1),
        "posts_per_s": round(tally.posts / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(np.max(lat)), 1),
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
    }


def batch_counters(url: str) -> dict[str, float]:
    """The server's cumulative micro-batch counters from ``/metrics``."""
    text = httpx.get(url + "/metrics", timeout=10.0).text
    wanted = ("cur_nlp_batch_size_count", "cur_nlp_batch_size_sum", "cur_nlp_batch_requests_sum",
              "cur_nlp_batch_duration_seconds_sum")
    counters = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            counters[name] = float(value)
    return counters


def batch_summary(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, Any]:
    """Model calls during a scenario: how many, posts and requests per call, time per call, share of time busy."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    calls = delta.get("cur_nlp_batch_size_count", 0.0)
    model_s = delta.get("cur_nlp_batch_duration_seconds_sum", 0.0)
    return {
        "model_calls": int(calls),
        "posts_per_batch": round(delta.get("cur_nlp_batch_size_sum", 0.0) / calls, 2) if calls else None,
        "requests_per_batch": round(delta.get("cur_nlp_batch_requests_sum", 0.0) / calls, 2) if calls else None,
        "model_ms_per_batch": round(1000 * model_s / calls, 1) if calls else None,
        "model_busy": round(model_s / seconds, 3) if seconds else None,
    }


async def closed_loop(url: str, clients: int, batch: int, duration: float, posts: list[str],
                      timeout: float = 30.0) -> dict[str, Any]:
    """``clients`` concurrent clients, each sending ``batch``-post requests back to back for ``duration`` s."""
    tally = Tally()
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            items = [{"id": i, "text": rng.choice(posts)} for i in range(batch)]
            body = {"items": items} if batch > 1 else {"text": items[0]["text"]}
            started = time.perf_counter()
            try:
                response = await http.post(url + "/v1/classify", json=body)
            except httpx.HTTPError as error:
                tally.error(type(error).__name__)
                continue
            if response.status_code != 200:
                tally.error(f"http_{response.status_code}")
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.posts += batch

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(client(http, i) for i in range(clients))), duration + timeout + 5)
        elapsed = time.perf_counter() - started
    return {"clients": clients, "batch": batch, **summarise(tally, elapsed)}


async def send_posts(url: str, server_pid: int, total: int, posts: list[str], batch: int = 64, clients: int = 2,
                     samples: int = 10) -> dict[str, Any]:
    """Send ``total`` posts in ``batch``-post requests; RSS sampled ``samples`` times on the way."""
    sent = 0
    errors = 0
    lock = asyncio.Lock()
    rss_trace: list[tuple[int, float]] = [(0, round(rss_mb(server_pid), 1))]
    step = max(total // samples, batch)
    next_sample = step

    async def client(http: httpx.AsyncClient, index: int) -> None:
        nonlocal sent, errors, next_sample
        rng = random.Random(1000 + index)
        while True:
            async with lock:
                if sent >= total:
                    return
                size = min(batch, total - sent)
                sent += size
            items = [{"id": i, "text": rng.choice(posts)} for i in range(size)]
            try:
                response = await http.post(url + "/v1/classify", json={"items": items})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                errors += 1
            async with lock:
                if sent >= next_sample:
                    rss_trace.append((sent, round(rss_mb(server_pid), 1)))
                    next_sample += step

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60.0) as http:
        await asyncio.gather(*(client(http, i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    rss_trace.append((sent, round(rss_mb(server_pid), 1)))
    return {"posts": sent, "seconds": round(elapsed, 1), "posts_per_s": round(sent / elapsed, 1), "errors": errors,
            "rss_trace_mb": rss_trace}


async def kill_and_restart(server: Server, posts: list[str], clients: int = 8, kill_after: float = 2.0,
                           run_for: float = 12.0, request_timeout: float = 2.0) -> dict[str, Any]:
    """Kill -9 the server during a load run and restart it at once; clients retry with backoff until ``run_for``."""
    tally = Tally()
    deadline = time.perf_counter() + run_for
    events: dict[str, float] = {}
    first_ok_after_kill: list[float] = []
    retries = 0

    async def client(index: int) -> None:
        nonlocal retries
        rng = random.Random(index)
        backoff = 0.05
        # a fresh connection pool per client: stale keep-alive sockets to the dead server fail fast
        async with httpx.AsyncClient(timeout=request_timeout) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.post(server.url + "/v1/classify", json={"text": rng.choice(posts)})
                    ok = response.status_code == 200
                    if not ok:
                        tally.error(f"http_{response.status_code}")
                except httpx.HTTPError as error:
                    ok = False
                    tally.error(type(error).__name__)
                if ok:
                    tally.latencies.append(time.perf_counter() - started)
                    tally.posts += 1
                    backoff = 0.05
                    if "killed" in events and not first_ok_after_kill:
                        first_ok_after_kill.append(time.perf_counter())
                else:
                    retries += 1
                    await asyncio.sleep(min(backoff, max(0.0, deadline - time.perf_counter())))
                    backoff = min(backoff * 2, 1.0)

    async def chaos() -> None:
        await asyncio.sleep(kill_after)
        old_pid = server.pid
        await asyncio.to_thread(server.kill)
        events["killed"] = time.perf_counter()
        server.start()
        events["restarted"] = time.perf_counter()
        events["ready_s"] = await asyncio.to_thread(server.wait_ready)
        events["old_pid"], events["new_pid"] = old_pid, server.pid

    started = time.perf_counter()
    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    chaos_task = asyncio.create_task(chaos())
    hung = 0
    done, pending = await asyncio.wait(tasks, timeout=run_for + request_timeout + 5)
    for task in pending:  # would mean a client hung past every timeout
        hung += 1
        task.cancel()
    await chaos_task
    elapsed = time.perf_counter() - started
    killed = events.get("killed", float("nan"))
    return {
        "clients": clients,
        "killed_at_s": round(kill_after, 2),
        "server_ready_after_restart_s": round(events.get("ready_s", float("nan")), 2),
        "first_success_after_kill_s": round(first_ok_after_kill[0] - killed, 2) if first_ok_after_kill else None,
        "client_retries": retries,
        "clients_hung": hung,
        "pids": [events.get("old_pid"), events.get("new_pid")],
        **summarise(tally, elapsed),
    }


def print_table(results: dict[str, Any]) -> None:
    print(f"\nmodel {results['model']}  on {results['machine']['cpus']} CPUs")
    print(f"{'scenario':<24}{'req/s':>8}{'posts/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, row in results["load"].items():
        print(f"{name:<24}{row['requests_per_s']:>8}{row['posts_per_s']:>9}{row['p50_ms']:>9}{row['p95_ms']:>9}"
              f"{row['p99_ms']:>9}{row['errors']:>8}")
    memory = results["memory"]
    print(f"RSS before {memory['rss_before_mb']} MB, after {memory['posts']} posts {memory['rss_after_mb']} MB "
          f"({memory['posts_per_s']} posts/s, {memory['errors']} errors)")
    chaos = results.get("kill_restart")
    if chaos:
        print(f"kill -9 + restart: ready again {chaos['server_ready_after_restart_s']} s after restart, first client "
              f"success {chaos['first_success_after_kill_s']} s after kill; client errors {chaos['errors']} "
              f"{chaos['error_kinds']}, retries {chaos['client_retries']}, hung clients {chaos['clients_hung']}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    posts = make_posts(2000)
    workdir = Path(tempfile.mkdtemp(prefix="cur_nlp_load_"))
    env = {"CUR_NLP_LOG_LEVEL": args.log_level, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    if args.window_ms is not None:
        env["CUR_NLP_BATCH_WINDOW_MS"] = str(args.window_ms)
    if args.threads:
        env["CUR_NLP_NUM_THREADS"] = str(args.threads)
    server = Server(args.model, free_port(), workdir / "server.log", env)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                           "loadavg_before": [round(x, 2) for x in os.getloadavg()]},
                               "settings": vars(args), "load": {}}
    server.start()
    try:
        results["startup_s"] = round(server.wait_ready(), 2)
        info = httpx.get(server.url + "/ready").json()["model"]
        results["model"] = f"{info['name']} {info['version']} ({args.model or 'models/default'})"
        await closed_loop(server.url, 4, 1, 2.0, posts)  # warm-up
        results["memory"] = {"rss_before_mb": round(rss_mb(server.pid), 1)}
        for clients in args.clients:
            before = batch_counters(server.url)
            row = await closed_loop(server.url, clients, 1, args.duration, posts)
            row["server_batches"] = batch_summary(before, batch_counters(server.url), args.duration)
            results["load"][f"single x{clients} clients"] = row
            batches = row["server_batches"]
            print(f"single-post, {clients} clients: {row['requests_per_s']} req/s, p50 {row['p50_ms']} ms, "
                  f"p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms, errors {row['errors']}; server: "
                  f"{batches['requests_per_batch']} requests per model call, {batches['model_ms_per_batch']} ms per call, "
                  f"model busy {batches['model_busy']:.0%}", flush=True)
        for clients in args.batch_clients:
            row = await closed_loop(server.url, clients, args.batch, args.duration, posts)
            results["load"][f"batch{args.batch} x{clients} clients"] = row
            print(f"{args.batch}-post batches, {clients} clients: {row['posts_per_s']} posts/s, p50 {row['p50_ms']} ms, "
                  f"p95 {row['p95_ms']} ms, errors {row['errors']}", flush=True)
        sent = await send_posts(server.url, server.pid, args.posts, posts, batch=args.batch)
        results["memory"].update(posts=sent["posts"], seconds=sent["seconds"], posts_per_s=sent["posts_per_s"],
                                 errors=sent["errors"], rss_after_mb=sent["rss_trace_mb"][-1][1],
                                 rss_trace_mb=sent["rss_trace_mb"])
        print(f"RSS {results['memory']['rss_before_mb']} MB -> {results['memory']['rss_after_mb']} MB after "
              f"{sent['posts']} posts", flush=True)
        results["server_metrics"] = [line for line in httpx.get(server.url + "/metrics").text.splitlines()
                                     if line.startswith(("cur_nlp_batch_size_sum", "cur_nlp_batch_size_count",
                                                         "cur_nlp_batch_requests_sum", "cur_nlp_errors_total"))]
        if not args.no_kill:
            results["kill_restart"] = await kill_and_restart(server, posts, run_for=args.kill_run_s)
    finally:
        server.stop()
        results["server_log"] = str(server.log_path)
    results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Model directory (default: the embedded models/default).")
    parser.add_argument("--posts", type=int, default=100_000, help="Posts sent for the RSS before/after check.")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per throughput/latency scenario.")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="Single-post client counts.")
    parser.add_argument("--batch", type=int, default=64, help="Posts per batch request.")
    parser.add_argument("--batch-clients", type=int, nargs="+", default=[1, 4], help="Batch-request client counts.")
    parser.add_argument("--window-ms", type=float, default=None,
                        help="Server micro-batch window (CUR_NLP_BATCH_WINDOW_MS; default: the service's default).")
    parser.add_argument("--threads", type=int, default=None, help="Server torch threads (CUR_NLP_NUM_THREADS).")
    parser.add_argument("--kill-run-s", type=float, default=30.0, help="Length of the kill-and-restart run.")
    parser.add_argument("--no-kill", action="store_true", help="Skip the kill-and-restart scenario.")
    parser.add_argument("--log-level", default="info", help="Server log level during the run.")
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print_table(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
