"""Prints bench/compare's side-by-side table from its results.jsonl (one JSON object per
line, each with "server" (zookeeper|keeper) and "name"). Ratios are keeper / ZooKeeper:
above 1 is better for throughput, below 1 is better for latency, memory and restart time."""
import json
import statistics
import sys


def load(path):
    """One row per (server, name): the median over rounds of every numeric field."""
    runs = {}
    for line in open(path):
        line = line.strip()
        if line:
            r = json.loads(line)
            runs.setdefault((r["server"], r["name"]), []).append(r)
    rows = {}
    for key, rs in runs.items():
        row = dict(rs[0])
        row["rounds"] = len(rs)
        for field, value in rs[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[field] = statistics.median(r[field] for r in rs)
        rows[key] = row
    return rows


def ratio(k, z):
    return f"{k / z:.2f}x" if z else "n/a"


def cpu(z, k):
    """Server CPU per request, ZooKeeper / keeper, and keeper's as a share of ZooKeeper's
    (below 1: keeper spends less); n/a for results without --server-pid."""
    zc, kc = z.get("server_cpu_us_per_op"), k.get("server_cpu_us_per_op")
    if zc is None or kc is None:
        return "n/a | n/a"
    return f"{zc:.1f} / {kc:.1f} | {ratio(kc, zc)}"


def main(path):
    rows = load(path)
    names = []
    for (_, name) in rows:
        if name not in ("memory", "restart") and name not in names:
            names.append(name)
    out = []
    if names:
        out.extend(workload_table(rows, names))
    memory_table(rows, out)
    if names:
        rounds = max((r["rounds"] for (_, n), r in rows.items() if n in names), default=0)
        out.append("")
        out.append(f"Workload figures are medians over {rounds} interleaved rounds.")
        out.append("Ensemble rows: 3 members on loopback, sessions spread over all three (reads served"
                   " by each member, writes through the leader). Failover: bench/failover.")
    print("\n".join(out).strip("\n"))


def workload_table(rows, names):
    out = []
    out.append("| workload | conc. | ZooKeeper ops/s | keeper ops/s | ratio | ZK p50/p99/p99.9 ms | keeper p50/p99/p99.9 ms | p99 ratio | server CPU µs/req ZK / keeper | CPU ratio |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        z, k = rows.get(("zookeeper", name)), rows.get(("keeper", name))
        if not z or not k:
            continue
        lat = lambda r: "/".join(f"{r[q] / 1000:.2f}" for q in ("p50_us", "p99_us", "p999_us"))
        base = name.removeprefix("ensemble-")
        label = base if base != "mixed" else f"mixed {k['read_pct']:.0f}% get"
        if k.get("rate"):
            label = f"set at {k['rate']:.0f}/s offered"
        if base != name:
            label = f"3-member ensemble: {label}"
        errs = "" if z["errors"] + k["errors"] == 0 else f" (errors zk {z['errors']}, keeper {k['errors']})"
        out.append(
            f"| {label}{errs} | {k['sessions']:.0f}x{k['depth']:.0f} | {z['ops_per_s']:.0f} | {k['ops_per_s']:.0f} | "
            f"{ratio(k['ops_per_s'], z['ops_per_s'])} | {lat(z)} | {lat(k)} | {ratio(k['p99_us'], z['p99_us'])} | "
            f"{cpu(z, k)} |"
        )
    return out


def memory_table(rows, out):
    z, k = rows.get(("zookeeper", "memory")), rows.get(("keeper", "memory"))
    # Restart figures: medians over the alternating restarts (older results kept them in
    # the memory row).
    zr, kr = rows.get(("zookeeper", "restart")), rows.get(("keeper", "restart"))
    if z and k and zr and kr:
        z, k = {**z, **zr}, {**k, **kr}
    if z and k and "restart_ms" in z and "restart_ms" in k:
        out.append("")
        out.append(f"| {k['znodes']} znodes of 100 B | ZooKeeper | keeper | ratio |")
        out.append("|---|---:|---:|---:|")
        for label, key, unit, scale in (
            ("load time", "load_ms", "s", 1000),
            ("RSS after load", "rss_kib", "MiB", 1024),
            ("RSS after load, once idle", "rss_settled_kib", "MiB", 1024),
            ("restart to serving", "restart_ms", "s", 1000),
            ("RSS after restart", "rss_after_restart_kib", "MiB", 1024),
        ):
            if key not in z or key not in k:
                continue
            out.append(
                f"| {label} | {z[key] / scale:.2f} {unit} | {k[key] / scale:.2f} {unit} | {ratio(k[key], z[key])} |"
            )
        if zr and kr:
            out.append("")
            out.append(f"Restart figures are medians over {kr['rounds']} restarts of each, alternating.")


if __name__ == "__main__":
    main(sys.argv[1])
