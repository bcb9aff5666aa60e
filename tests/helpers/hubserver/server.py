"""A loopback Hugging Face Hub for tests: the endpoints `huggingface_hub` and `datasets` really call.

Repos live in a tmp folder: content-addressed blobs (``blobs/<sha256>``) plus one ``state.json`` per
repo holding every commit (parent, message, full file table), the branches and the tags, so each
revision is a real, immutable snapshot. Served on 127.0.0.1 only::

    with HubServer(tmp_path) as hub:          # hub.endpoint == "http://127.0.0.1:PORT"
        ...                                   # set HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET=1

Endpoints: repo create / info (``/api/{type}s/{repo}[/revision/{rev}]``), ``preupload``, ``commit``
(ndjson, with ``create_pr``), LFS ``batch`` + ``PUT`` upload, ``resolve`` (GET/HEAD with ETag,
X-Repo-Commit, X-Linked-Etag/X-Linked-Size, Content-Length, Range), ``tree``, ``paths-info``,
``refs``, ``tag`` create/delete, ``validate-yaml``, ``whoami-v2``.

Fault injection: ``hub.fail_next_commit = "drop"`` closes the connection mid-commit (nothing
applied); ``"drop_after_apply"`` applies the commit, then closes the connection before answering.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (
    ".parquet",
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".png",
    ".jpg",
    ".arrow",
    ".onnx",
    ".h5",
    ".npy",
    ".pkl",
    ".msgpack",
    ".zip",
    ".gz",
    ".tar",
    ".ot",
    ".model",
)
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class Store:
    """Repos on disk; every mutation happens under one lock."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()

    # -- storage -------------------------------------------------------------------------------
    def _state_path(self, rtype: str, repo: str) -> Path:
        return self.root / "repos" / rtype / repo / "state.json"

    def load(self, rtype: str, repo: str) -> dict:
        path = self._state_path(rtype, repo)
        if not path.exists():
            raise HubError(404, f"Repository {repo} not found", "RepoNotFound")
        return json.loads(path.read_text())

    def save(self, rtype: str, repo: str, state: dict) -> None:
        path = self._state_path(rtype, repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / sha
        if not path.exists():
            path.write_bytes(data)
        return sha

    def blob_path(self, sha: str) -> Path:
        return self.root / "blobs" / sha

    def has_blob(self, sha: str) -> bool:
        return self.blob_path(sha).exists()

    # -- repos, revisions, commits -------------------------------------------------------------
    def create(self, rtype: str, repo: str, private: bool) -> None:
        with self.lock:
            if self._state_path(rtype, repo).exists():
                raise HubError(409, "You already created this repo")
            state = {"private": private, "created": _now(), "branches": {}, "tags": {}, "commits": {}, "prs": 0}
            files = {".gitattributes": self._entry(GITATTRIBUTES, lfs=False)}
            state["branches"]["main"] = self._new_commit(state, None, "initial commit", "", files)
            self.save(rtype, repo, state)

    def _entry(self, data: bytes, lfs: bool) -> dict:
        sha = self.put_blob(data)
        return {"sha256": sha, "size": len(data), "lfs": lfs, "oid": git_sha1(data)}

    @staticmethod
    def _new_commit(state, parent, title, description, files) -> str:
        body = json.dumps([parent, title, description, files, time.time_ns()], sort_keys=True)
        oid = hashlib.sha1(body.encode()).hexdigest()
        state["commits"][oid] = {
            "parent": parent,
            "title": title,
            "description": description,
            "date": _now(),
            "files": files,
        }
        return oid

    @staticmethod
    def resolve(state: dict, revision: str) -> str:
        revision = unquote(revision)
        for table in (state["branches"], state["tags"]):
            if revision in table:
                return table[revision]
        if revision in state["commits"]:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def commit(self, rtype, repo, revision, header, ops, create_pr) -> tuple[str, str | None]:
        with self.lock:
            state = self.load(rtype, repo)
            branch = unquote(revision)
            if branch not in state["branches"]:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = state["branches"][branch]
            parent = header.get("parentCommit")
            if parent and parent != head:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(state["commits"][head]["files"])
            for key, value in ops:
                path = value["path"]
                if key == "file":
                    data = (
                        base64.b64decode(value["content"])
                        if value.get("encoding") == "base64"
                        else value["content"].encode()
                    )
                    files[path] = self._entry(data, lfs=False)
                elif key == "lfsFile":
                    oid = value["oid"]
                    if not self.has_blob(oid):
                        raise HubError(400, f"LFS object {oid} was never uploaded ({path})")
                    size = self.blob_path(oid).stat().st_size
                    files[path] = {"sha256": oid, "size": size, "lfs": True, "oid": git_sha1(_pointer(oid, size))}
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    for name in [n for n in files if n.startswith(prefix)]:
                        del files[name]
            new = self._new_commit(state, head, header.get("summary", ""), header.get("description", ""), files)
            pr_ref = None
            if create_pr:
                state["prs"] += 1
                pr_ref = f"refs/pr/{state['prs']}"
                state["branches"][pr_ref] = new
            else:
                state["branches"][branch] = new
            self.save(rtype, repo, state)
            return new, pr_ref

    def tag(self, rtype, repo, revision, tag) -> None:
        with self.lock:
            state = self.load(rtype, repo)
            oid = self.resolve(state, revision)
            if tag in state["tags"] or tag in state["branches"]:
                raise HubError(409, f"Tag {tag} already exists")
            state["tags"][tag] = oid
            self.save(rtype, repo, state)

    def delete_tag(self, rtype, repo, tag) -> None:
        with self.lock:
            state = self.load(rtype, repo)
            if state["tags"].pop(unquote(tag), None) is None:
                raise HubError(404, f"Invalid rev id: {tag}", "RevisionNotFound")
            self.save(rtype, repo, state)

    def history(self, rtype, repo, revision="main") -> list[dict]:
        """Commits from ``revision`` back to the first one (for tests)."""
        state = self.load(rtype, repo)
        oid, out = self.resolve(state, revision), []
        while oid:
            out.append({"id": oid, **state["commits"][oid]})
            oid = state["commits"][oid]["parent"]
        return out


def _pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def _file_info(path: str, entry: dict) -> dict:
    info = {"type": "file", "oid": entry["oid"], "size": entry["size"], "path": path}
    if entry["lfs"]:
        info["lfs"] = {
            "oid": entry["sha256"],
            "size": entry["size"],
            "pointerSize": len(_pointer(entry["sha256"], entry["size"])),
        }
    return info


def _dir_info(path: str) -> dict:
    return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}


def _listing(files: dict, prefix: str, recursive: bool) -> list[dict]:
    prefix = prefix.strip("/")
    base = prefix + "/" if prefix else ""
    if prefix and prefix in files:
        return [_file_info(prefix, files[prefix])]
    out, dirs = [], set()
    for name in sorted(files):
        if not name.startswith(base):
            continue
        rest = name[len(base) :].split("/")
        for depth in range(1, len(rest)):
            if recursive or depth == 1:
                dirs.add(base + "/".join(rest[:depth]))
        if recursive or len(rest) == 1:
            out.append(_file_info(name, files[name]))
    if prefix and not out and not dirs:
        raise HubError(404, f"{prefix} does not exist", "EntryNotFound")
    return [_dir_info(d) for d in sorted(dirs)] + out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, fmt, *args):  # keep test output quiet; requests are recorded instead
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, status=200, headers=None):
        self._send(status, json.dumps(data).encode(), headers)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bearer ")

    def _need_auth(self):
        if not self._authorized():
            raise HubError(401, "Invalid credentials in Authorization header")

    def _dispatch(self):
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.server.requests.append((self.command, url.path))
        try:
            for pattern, method, name in ROUTES:
                match = re.fullmatch(pattern, url.path)
                if match and method == self.command or (match and method == "GET" and self.command == "HEAD"):
                    return getattr(self, name)(**match.groupdict())
            raise HubError(404, f"no route for {self.command} {url.path}")
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._json({"error": err.message}, err.status, headers)
        except ConnectionError:
            pass

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _repo(self, kind: str, repo: str) -> tuple[str, str, dict]:
        rtype = _REPO_TYPES.get(kind, kind)
        state = self.server.store.load(rtype, unquote(repo))
        if state["private"] and not self._authorized():
            raise HubError(401, "Repository not found", "RepoNotFound")
        return rtype, unquote(repo), state

    # -- API -----------------------------------------------------------------------------------
    def whoami(self):
        self._need_auth()
        self._json({"type": "user", "name": "tester", "orgs": [], "auth": {"accessToken": {"role": "write"}}})

    def validate_yaml(self):
        self._body()
        self._json({"errors": [], "warnings": []})

    def create_repo(self):
        self._need_auth()
        payload = json.loads(self._body() or b"{}")
        rtype = payload.get("type") or "model"
        repo = f"{payload['organization'] or 'tester'}/{payload['name']}"
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        self.server.store.create(rtype, repo, private)
        self._json({"url": f"{self.server.endpoint}/{_URL_PREFIX[rtype]}{repo}", "name": repo})

    def repo_info(self, kind, repo, rev="main"):
        rtype, repo, state = self._repo(kind, repo)
        oid = Store.resolve(state, rev)
        commit = state["commits"][oid]
        siblings = []
        for name, entry in sorted(commit["files"].items()):
            sib = {"rfilename": name, "size": entry["size"], "blobId": entry["oid"]}
            if entry["lfs"]:
                sib["lfs"] = _file_info(name, entry)["lfs"] | {"sha256": entry["sha256"]}
            siblings.append(sib)
        self._json(
            {
                "id": repo,
                "_id": repo,
                "author": repo.split("/")[0],
                "sha": oid,
                "private": state["private"],
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "lastModified": commit["date"],
                "createdAt": state["created"],
                "siblings": siblings,
            }
        )

    def refs(self, kind, repo):
        _, _, state = self._repo(kind, repo)

        def ref(name, oid, prefix):
            return {"name": name, "ref": f"{prefix}{name}", "targetCommit": oid}

        branches = [ref(n, o, "refs/heads/") for n, o in state["branches"].items() if not n.startswith("refs/pr/")]
        prs = [
            {"name": n, "ref": n, "targetCommit": o} for n, o in state["branches"].items() if n.startswith("refs/pr/")
        ]
        self._json(
            {
                "branches": branches,
                "tags": [ref(n, o, "refs/tags/") for n, o in state["tags"].items()],
                "converts": [],
                "pullRequests": prs,
            }
        )

    def commits(self, kind, repo, rev):
        rtype, repo, _ = self._repo(kind, repo)
        self._json(
            [
                {
                    "id": c["id"],
                    "title": c["title"],
                    "message": c["description"],
                    "authors": [{"user": "tester"}],
                    "date": c["date"],
                }
                for c in self.server.store.history(rtype, repo, unquote(rev))
            ]
        )

    def tree(self, kind, repo, rev, path=""):
        _, _, state = self._repo(kind, repo)
        files = state["commits"][Store.resolve(state, rev)]["files"]
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        self._json(_listing(files, unquote(path or ""), recursive))

    def paths_info(self, kind, repo, rev):
        _, _, state = self._repo(kind, repo)
        files = state["commits"][Store.resolve(state, rev)]["files"]
        form = parse_qs(self._body().decode())
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in files:
                out.append(_file_info(path, files[path]))
            elif any(name.startswith(path + "/") for name in files):
                out.append(_dir_info(path))
        self._json(out)

    def preupload(self, kind, repo, rev):
        self._need_auth()
        _, _, state = self._repo(kind, repo)
        files = state["commits"][Store.resolve(state, rev)]["files"] if unquote(rev) in state["branches"] else {}
        out = []
        for item in json.loads(self._body())["files"]:
            sample = base64.b64decode(item["sample"])
            lfs = item["path"].endswith(LFS_SUFFIXES) or item["size"] > 5 * 2**20 or b"\0" in sample
            existing = files.get(item["path"])
            remote_oid = None
            if existing:
                remote_oid = existing["sha256"] if existing["lfs"] else existing["oid"]
            out.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": remote_oid,
                }
            )
        self._json({"files": out})

    def commit(self, kind, repo, rev):
        self._need_auth()
        rtype, repo, _ = self._repo(kind, repo)
        fault, self.server.fail_next_commit = self.server.fail_next_commit, None
        length = int(self.headers.get("Content-Length") or 0)
        if fault == "drop":  # read half the body, then vanish: nothing applied
            self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        lines = [json.loads(line) for line in self.rfile.read(length).splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        ops = [(item["key"], item["value"]) for item in lines if item["key"] != "header"]
        create_pr = self.query.get("create_pr", ["0"])[0] in ("1", "true")
        oid, pr_ref = self.server.store.commit(rtype, repo, rev, header, ops, create_pr)
        if fault == "drop_after_apply":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        base = f"{self.server.endpoint}/{_URL_PREFIX[rtype]}{repo}"
        pr_url = f"{base}/discussions/{pr_ref.rsplit('/', 1)[1]}" if pr_ref else None
        self._json({"success": True, "commitOid": oid, "commitUrl": f"{base}/commit/{oid}", "pullRequestUrl": pr_url})

    def create_tag(self, kind, repo, rev):
        self._need_auth()
        rtype, repo, _ = self._repo(kind, repo)
        self.server.store.tag(rtype, repo, rev, json.loads(self._body())["tag"])
        self._json({"success": True})

    def delete_tag(self, kind, repo, tag):
        self._need_auth()
        rtype, repo, _ = self._repo(kind, repo)
        self.server.store.delete_tag(rtype, repo, tag)
        self._json({"success": True})

    # -- LFS -----------------------------------------------------------------------------------
    def lfs_batch(self, prefix, repo):
        self._need_auth()
        self._repo(_REPO_TYPES.get((prefix or "").strip("/") or "models", "model"), repo)
        objects = []
        for obj in json.loads(self._body())["objects"]:
            item = {"oid": obj["oid"], "size": obj["size"]}
            if not self.server.store.has_blob(obj["oid"]):
                href = f"{self.server.endpoint}/lfs-upload/{obj['oid']}"
                item["actions"] = {
                    "upload": {"href": href, "header": {}},
                    "verify": {"href": f"{href}/verify", "header": {}},
                }
            objects.append(item)
        self._json({"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_upload(self, oid):
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "sha256 mismatch")
        self.server.store.put_blob(data)
        self._send(200, b"")

    def lfs_verify(self, oid):
        self._body()
        if not self.server.store.has_blob(oid):
            raise HubError(404, "object missing")
        self._json({"success": True})

    # -- files ---------------------------------------------------------------------------------
    def resolve_file(self, prefix, repo, rev, path):
        rtype = "dataset" if prefix == "datasets/" else "space" if prefix == "spaces/" else "model"
        _, _, state = self._repo(rtype, repo)
        oid = Store.resolve(state, rev)
        entry = state["commits"][oid]["files"].get(unquote(path))
        if entry is None:
            raise HubError(404, "Entry not found", "EntryNotFound")
        size = entry["size"]
        headers = {"ETag": f'"{entry["oid"]}"', "X-Repo-Commit": oid, "Accept-Ranges": "bytes"}
        if entry["lfs"]:
            headers |= {
                "ETag": f'"{entry["sha256"]}"',
                "X-Linked-Etag": f'"{entry["sha256"]}"',
                "X-Linked-Size": str(size),
            }
        start, end, status = 0, size - 1, 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "") or "")
        if match and size:
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start = max(size - int(match.group(2)), 0)
            if start >= size:
                raise HubError(416, "Range not satisfiable")
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        with open(self.server.store.blob_path(entry["sha256"]), "rb") as handle:
            handle.seek(start)
            body = handle.read(max(end - start + 1, 0))
        self._send(status, body, headers, ctype="application/octet-stream")


_T = r"(?P<kind>models|datasets|spaces)"
_R = r"(?P<repo>[^/]+/[^/]+)"
ROUTES = [
    (r"/api/whoami-v2", "GET", "whoami"),
    (r"/api/validate-yaml", "POST", "validate_yaml"),
    (r"/api/repos/create", "POST", "create_repo"),
    (rf"/api/{_T}/{_R}", "GET", "repo_info"),
    (rf"/api/{_T}/{_R}/revision/(?P<rev>[^/]+)", "GET", "repo_info"),
    (rf"/api/{_T}/{_R}/refs", "GET", "refs"),
    (rf"/api/{_T}/{_R}/commits/(?P<rev>[^/]+)", "GET", "commits"),
    (rf"/api/{_T}/{_R}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "GET", "tree"),
    (rf"/api/{_T}/{_R}/paths-info/(?P<rev>[^/]+)", "POST", "paths_info"),
    (rf"/api/{_T}/{_R}/preupload/(?P<rev>[^/]+)", "POST", "preupload"),
    (rf"/api/{_T}/{_R}/commit/(?P<rev>[^/]+)", "POST", "commit"),
    (rf"/api/{_T}/{_R}/tag/(?P<rev>[^/]+)", "POST", "create_tag"),
    (rf"/api/{_T}/{_R}/tag/(?P<tag>[^/]+)", "DELETE", "delete_tag"),
    (r"/(?P<prefix>datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", "POST", "lfs_batch"),
    (r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "PUT", "lfs_upload"),
    (r"/lfs-upload/(?P<oid>[0-9a-f]{64})/verify", "POST", "lfs_verify"),
    (
        r"/(?P<prefix>datasets/|spaces/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)",
        "GET",
        "resolve_file",
    ),
]


class HubServer(ThreadingHTTPServer):
    """``with HubServer(tmp_dir) as hub:`` serves on 127.0.0.1 in a background thread."""

    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = Store(root)
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.fail_next_commit: str | None = None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)
