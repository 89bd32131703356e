#!/usr/bin/python3
"""Validates deploy/kubernetes/ offline, without a cluster (docs/scale-out.md):

1. each manifest against the Kubernetes API schemas (PyPI `kubernetes-validate`, strict: unknown
   fields are errors), when that package is installed;
2. the scale-out Jobs agree with each other (Debian `python3-yaml`): an Indexed Job's `--shard K/N`
   takes K from JOB_COMPLETION_INDEX and N from spec.completions; every volume mount names a
   volume; each merge Job reads the pattern its Indexed Job writes;
3. with --run MODELSMITH: every Job's command line is run here, /data mapped to a scratch
   directory holding the digits example, one process per completion index, in manifest order
   (indexed Job, then its merge Job), so the manifests' own arguments are known to work.

Usage: /usr/bin/python3 scripts/validate-kubernetes.py [--run .build/debug/modelsmith]
Install the schema checker with: /usr/bin/python3 -m pip install --break-system-packages kubernetes-validate
"""
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
# Indexed Job → the Job that merges its outputs (run after it).
PIPELINES = [("calibrate-job.yaml", "calibrate-merge-job.yaml"), ("teacher-outputs-job.yaml", "distill-job.yaml")]
INDEX = "$(JOB_COMPLETION_INDEX)"


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return yaml.safe_load(f)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def option(args, name):
    for i, a in enumerate(args):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
        if a == name:
            return args[i + 1]
    raise SystemExit(f"missing {name} in {args}")


def check_consistency():
    errors = []
    for indexed_name, merge_name in PIPELINES:
        indexed, merge = load(indexed_name), load(merge_name)
        spec = indexed["spec"]
        if spec.get("completionMode") != "Indexed":
            errors.append(f"{indexed_name}: spec.completionMode must be Indexed")
        shard = option(container(indexed)["args"], "--shard")
        if shard != f"{INDEX}/{spec['completions']}":
            errors.append(f"{indexed_name}: --shard is '{shard}', expected '{INDEX}/{spec['completions']}' (spec.completions)")
        written = option(container(indexed)["args"], "-o")
        if INDEX not in written:
            errors.append(f"{indexed_name}: -o '{written}' does not depend on the completion index (shards would overwrite each other)")
        pattern = option(container(merge)["args"], "--calib-cache" if "calib" in indexed_name else "--teacher-outputs")
        for k in range(spec["completions"]):
            if not fnmatch.fnmatch(written.replace(INDEX, str(k)), pattern):
                errors.append(f"{merge_name}: pattern '{pattern}' misses shard {k}'s output {written.replace(INDEX, str(k))}")
    for name in sorted(os.listdir(DEPLOY)):
        doc = load(name)
        if doc.get("kind") != "Job":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{name}: container '{c['name']}' mounts unknown volume '{m['name']}'")
    return errors


def run_locally(modelsmith):
    scratch = tempfile.mkdtemp(prefix="modelsmith-k8s-")
    try:
        for d in ("model", "calib", "stats", "logits", "out"):
            os.makedirs(os.path.join(scratch, d))
        example = os.path.join(ROOT, "Examples", "digits")
        subprocess.run([modelsmith, "convert", os.path.join(example, "teacher.tar.zst"), "-o",
                        os.path.join(scratch, "model", "teacher.msa")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.copy(os.path.join(example, "train.npz"), os.path.join(scratch, "calib", "train.npz"))
        shutil.copy(os.path.join(example, "student.json"), os.path.join(scratch, "model", "student.json"))
        for indexed_name, merge_name in PIPELINES:
            indexed = load(indexed_name)
            args = [a.replace("/data", scratch) for a in container(indexed)["args"]]
            procs = [subprocess.Popen([modelsmith] + [a.replace(INDEX, str(k)) for a in args], stdout=subprocess.DEVNULL)
                     for k in range(indexed["spec"]["completions"])]
            if any(p.wait() != 0 for p in procs):
                return [f"{indexed_name}: a shard's command failed"]
            merge_args = [a.replace("/data", scratch) for a in container(load(merge_name))["args"]]
            if merge_name == "distill-job.yaml":
                # The arguments are checked, not the training: one epoch, quietly.
                merge_args = [re.sub(r"^--epochs=\d+$", "--epochs=1", a) for a in merge_args] + ["--quiet"]
            if subprocess.run([modelsmith] + merge_args, stdout=subprocess.DEVNULL).returncode != 0:
                return [f"{merge_name}: the command failed"]
            print(f"ran {indexed_name} ({indexed['spec']['completions']} shards) and {merge_name} locally", flush=True)
        return []
    finally:
        shutil.rmtree(scratch)


def main():
    errors = []
    try:
        import kubernetes_validate  # noqa: F401
        names = sorted(os.path.join(DEPLOY, n) for n in os.listdir(DEPLOY) if n.endswith(".yaml"))
        if subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"] + names).returncode != 0:
            errors.append("schema validation failed")
        else:
            print(f"schemas: {len(names)} manifests valid (kubernetes-validate --strict)")
    except ImportError:
        print("schemas: skipped (install kubernetes-validate from PyPI to check them)")
    errors += check_consistency()
    if not errors:
        print("consistency: shard counts, output patterns and volumes agree")
    if "--run" in sys.argv and not errors:
        errors += run_locally(os.path.abspath(sys.argv[sys.argv.index("--run") + 1]))
    for e in errors:
        print("error:", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
