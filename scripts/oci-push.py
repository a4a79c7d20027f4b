#!/usr/bin/env python3
"""Push small, valid OCI images to a registry over the Distribution API (no docker daemon).

Used by the demo and the benchmark. Each pushed manifest differs (its annotation carries the
seed and tag), so distinct tags have distinct digests. Prints "REF DIGEST" per tag.

  oci-push.py --registry 127.0.0.1:5000 --repo demo/app --tag latest --seed build-1
  oci-push.py --registry 127.0.0.1:5000 --repo bench/app --tags 1000      # tags t0000..t0999
  oci-push.py --registry 127.0.0.1:5000 --repos 100 --repo-prefix bench/r  # r000..r099:latest
"""

import argparse
import base64
import hashlib
import http.client
import json
import sys
import urllib.parse


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, host: str, user: str = "", password: str = ""):
        self.host = host
        self.conn = http.client.HTTPConnection(host, timeout=30)
        self.auth = {}
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = {"Authorization": f"Basic {token}"}

    def request(self, method, path, body=None, headers=None):
        all_headers = dict(self.auth)
        all_headers.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
                return response, data
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, timeout=30)

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        response, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if response.status == 200:
            return digest
        response, body = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"", {"Content-Length": "0"})
        if response.status != 202:
            sys.exit(f"oci-push: starting a blob upload to {self.host}/{repo} failed: HTTP {response.status} {body[:200]!r}")
        location = urllib.parse.urlsplit(response.getheader("Location"))
        query = location.query + ("&" if location.query else "") + urllib.parse.urlencode({"digest": digest})
        response, body = self.request(
            "PUT", f"{location.path}?{query}", data,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
        )
        if response.status != 201:
            sys.exit(f"oci-push: uploading a blob to {self.host}/{repo} failed: HTTP {response.status} {body[:200]!r}")
        return digest

    def push_manifest(self, repo: str, tag: str, manifest: bytes, media_type: str) -> str:
        response, body = self.request(
            "PUT", f"/v2/{repo}/manifests/{tag}", manifest,
            {"Content-Type": media_type, "Content-Length": str(len(manifest))},
        )
        if response.status != 201:
            sys.exit(f"oci-push: pushing {self.host}/{repo}:{tag} failed: HTTP {response.status} {body[:200]!r}")
        return sha256(manifest)


def push_image(registry: Registry, repo: str, tag: str, seed: str) -> str:
    layer = f"tf-pin demo layer {seed}\n".encode()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"build": seed}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
    }).encode()
    config_digest = registry.push_blob(repo, config)
    layer_digest = registry.push_blob(repo, layer)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
        "annotations": {"org.opencontainers.image.version": f"{seed}/{tag}"},
    }, indent=2).encode()
    return registry.push_manifest(repo, tag, manifest, "application/vnd.oci.image.manifest.v1+json")


def push_targets(args) -> list:
    """(repository, tag) pairs for --tags N (t000…), --repos N (PREFIX000…) or one image."""
    width = max(len(str(max(args.tags, args.repos) - 1)), 3)
    if args.repos:
        return [(f"{args.repo_prefix}{i:0{width}d}", args.tag) for i in range(args.repos)]
    if args.tags:
        return [(args.repo, f"t{i:0{width}d}") for i in range(args.tags)]
    return [(args.repo, args.tag)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", required=True, help="host:port of a plain-HTTP registry")
    parser.add_argument("--repo", default="demo/app")
    parser.add_argument("--tag", default="latest")
    parser.add_argument("--seed", default="build-1", help="varies the image content")
    parser.add_argument("--tags", type=int, default=0, help="push N tags t0000.. instead of --tag")
    parser.add_argument("--repos", type=int, default=0, help="push to N repositories PREFIX000.. instead of --repo")
    parser.add_argument("--repo-prefix", default="bench/r")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    args = parser.parse_args()

    registry = Registry(args.registry, args.user, args.password)
    targets = push_targets(args)
    for repo, tag in targets:
        digest = push_image(registry, repo, tag, args.seed)
        print(f"{args.registry}/{repo}:{tag} {digest}")


if __name__ == "__main__":
    main()
