#!/usr/bin/env python3
"""Offline checks of deploy/ (docs/serving.md, "Kubernetes"): no cluster needed.

- deploy/kubernetes builds with `kubectl kustomize` (when kubectl is installed) and every manifest
  has the fields the API server requires for its kind;
- the Deployment's selector matches its pod labels, its probes hit the v2 health endpoints on the
  container's port, and it requests CPU (the HPA's utilisation is relative to the request);
- the Service targets that port, the HPA scales that Deployment 2–10 on 70% CPU;
- the Grafana dashboard is JSON and every metric its queries use is one the server exports
  (Sources/Serving/ServerMetrics.swift).

usage: python3 scripts/validate-deploy.py     (exit 0 when all pass, 1 with one line per problem)
"""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
K8S = os.path.join(ROOT, "deploy", "kubernetes")
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def dig(obj, *path):
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


docs = {}
for name in sorted(os.listdir(K8S)):
    if name.endswith(".yaml") and name != "kustomization.yaml":
        with open(os.path.join(K8S, name)) as f:
            for doc in yaml.safe_load_all(f):
                for field in ("apiVersion", "kind"):
                    check(field in doc, f"{name}: no {field}")
                check(dig(doc, "metadata", "name"), f"{name}: no metadata.name")
                docs[doc["kind"]] = (name, doc)

if shutil.which("kubectl"):
    run = subprocess.run(["kubectl", "kustomize", K8S], capture_output=True, text=True)
    check(run.returncode == 0, f"kubectl kustomize deploy/kubernetes: {run.stderr.strip()}")

for kind in ("Deployment", "Service", "HorizontalPodAutoscaler"):
    check(kind in docs, f"deploy/kubernetes: no {kind}")
if problems:
    sys.exit("\n".join(problems))

name, dep = docs["Deployment"]
check(dep["apiVersion"] == "apps/v1", f"{name}: apiVersion {dep['apiVersion']}, expected apps/v1")
labels = dig(dep, "spec", "template", "metadata", "labels") or {}
selector = dig(dep, "spec", "selector", "matchLabels") or {}
check(selector and all(labels.get(k) == v for k, v in selector.items()), f"{name}: spec.selector.matchLabels {selector} do not match the pod labels {labels}")
container = dig(dep, "spec", "template", "spec", "containers", 0) or {}
check(container.get("image"), f"{name}: containers[0].image missing")
ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
args = container.get("args", [])
check("serve" in args, f"{name}: containers[0].args does not run `modelsmith serve`")
port_arg = args[args.index("--port") + 1] if "--port" in args else "8080"
check(str(ports.get("http")) == str(port_arg), f"{name}: port 'http' {ports.get('http')} is not the --port {port_arg}")
check("--host" in args and args[args.index("--host") + 1] == "0.0.0.0", f"{name}: --host 0.0.0.0 is needed inside a pod")
for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
    check(dig(container, probe, "httpGet", "path") == path, f"{name}: {probe}.httpGet.path is not {path}")
    check(dig(container, probe, "httpGet", "port") in ("http", ports.get("http")), f"{name}: {probe} does not probe the http port")
check(dig(container, "resources", "requests", "cpu"), f"{name}: resources.requests.cpu missing (the HPA's CPU target needs it)")

name, svc = docs["Service"]
check(dig(svc, "spec", "selector") == selector, f"{name}: spec.selector {dig(svc, 'spec', 'selector')} is not the Deployment's {selector}")
check(all(p.get("targetPort") in ("http", ports.get("http")) for p in dig(svc, "spec", "ports") or []), f"{name}: targetPort is not the container's http port")

name, hpa = docs["HorizontalPodAutoscaler"]
check(hpa["apiVersion"] == "autoscaling/v2", f"{name}: apiVersion {hpa['apiVersion']}, expected autoscaling/v2")
check(dig(hpa, "spec", "scaleTargetRef", "name") == dig(dep, "metadata", "name"), f"{name}: scaleTargetRef is not the Deployment")
check((dig(hpa, "spec", "minReplicas"), dig(hpa, "spec", "maxReplicas")) == (2, 10), f"{name}: replicas are not 2–10")
check(dig(hpa, "spec", "metrics", 0, "resource", "name") == "cpu"
      and dig(hpa, "spec", "metrics", 0, "resource", "target", "averageUtilization") == 70, f"{name}: the target is not 70% CPU")

with open(os.path.join(ROOT, "Sources", "Serving", "ServerMetrics.swift")) as f:
    exported = set(re.findall(r'"(modelsmith_[a-z_]+)', f.read()))
with open(os.path.join(ROOT, "deploy", "grafana", "modelsmith-serve.json")) as f:
    dashboard = json.load(f)
for panel in dashboard["panels"]:
    for target in panel.get("targets", []):
        for metric in re.findall(r"modelsmith_[a-z_]+", target["expr"]):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            check(base in exported or metric in exported, f"grafana panel '{panel['title']}': {metric} is not exported by the server")

with open(os.path.join(ROOT, "deploy", "prometheus", "prometheus.yml")) as f:
    scrape = yaml.safe_load(f)
check(all(job.get("metrics_path") in (None, "/metrics") for job in scrape["scrape_configs"]), "prometheus.yml: a job scrapes another path than /metrics")

if problems:
    sys.exit("\n".join(problems))
print("deploy/: 3 manifests, the dashboard and the scrape config are consistent")
