"""Audit a published dataset card: every fact it states, checked against the Hub, the parquet files on
the Hub, the dataset manifest and the run manifests it was built from. ``audit_dataset_card`` returns the
list of false or missing facts (empty: the card tells the truth)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from rankladder.core.fsutil import sha256_file
from rankladder.dataset_builder import schema


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return match.group(1) if match else ""


def hub_card(api, repo: str, tag: str):
    from huggingface_hub import DatasetCard

    return DatasetCard.load(api.hf_hub_download(repo, "README.md", repo_type="dataset", revision=tag))


def audit_dataset_card(
    api, endpoint: str, repo: str, tag: str, run_manifests: list[dict], card=None, records_read: dict | None = None
) -> list[str]:
    """``records_read``: RUN_DIR folder name -> the records its files hold (counted by the caller), for the
    merged-runs table of a build from several RUN_DIRs."""
    import pyarrow.parquet as pq

    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    card = card or hub_card(api, repo, tag)
    text, meta = card.text, card.data.to_dict()
    refs = api.list_repo_refs(repo, repo_type="dataset")
    tags = {t.name for t in refs.tags}
    files = set(api.list_repo_files(repo, repo_type="dataset", revision=tag))
    manifest = json.loads(
        Path(api.hf_hub_download(repo, schema.MANIFEST_FILE, repo_type="dataset", revision=tag)).read_text()
    )
    stats = json.loads(
        Path(api.hf_hub_download(repo, schema.STATS_FILE, repo_type="dataset", revision=tag)).read_text()
    )

    def table(rel: str):
        return pq.read_table(api.hf_hub_download(repo, rel, repo_type="dataset", revision=tag))

    # release: version, tag, content hash (recomputed from the parquet files on the Hub)
    version = meta.get("rankladder", {}).get("version")
    check(f"v{version}" == tag and tag in tags, f"version {version} / tag {tag} not on the Hub ({sorted(tags)})")
    check(version == manifest["version"], f"card version {version} != manifest {manifest['version']}")
    check(meta["rankladder"]["content_hash"] == manifest["content_hash"], "content hash != manifest's")
    for entry in (shard for split in manifest["files"].values() for shard in split["shards"]):
        check(entry["path"] in files, f"manifest file {entry['path']} not on the Hub")
        if entry["path"] in files:
            local = api.hf_hub_download(repo, entry["path"], repo_type="dataset", revision=tag)
            check(sha256_file(Path(local)) == entry["sha256"], f"{entry['path']}: sha256 differs from the manifest")
    check(f"`{manifest['content_hash']}`" in text, "content hash not stated in the body")
    release = re.search(r"\*\*Release:\*\* version (\S+), tag `(\S+)` of \[`(\S+)`\]\((\S+)\)", text)
    check(bool(release), "no release line")
    if release:
        check(release.groups()[:3] == (version, tag, repo), f"release line names {release.groups()[:3]}")
        check(release.group(4) == f"{endpoint}/datasets/{repo}/tree/{tag}", f"release link {release.group(4)}")
    for run in run_manifests:  # the uploaded manifest names no folder of this machine
        source = str(Path(run["queries"]["source"]).parent)
        check(source not in json.dumps(manifest), f"a machine path ({source}) in the uploaded manifest")
    check("/tmp/" not in json.dumps(manifest) and "/tmp/" not in card.content, "a /tmp path leaves the machine")
    # every link goes to the target Hub or to a file of this repo
    for url in re.findall(r"\]\(([^)]+)\)", text):
        check(url.startswith(endpoint) or url in files, f"link {url} is neither on {endpoint} nor a file of the repo")
    check("huggingface.co" not in text, "a link to huggingface.co although HF_ENDPOINT names another Hub")
    # the loading snippet: this repo at this tag, configs the YAML declares, no folder of this machine
    loading = _section(text, "How to load")
    declared = {config["config_name"] for config in meta["configs"]}
    loads = re.findall(r'load_dataset\("([^"]+)", "(\w+)", revision="([^"]+)"\)', loading)
    check(bool(loads), "no Hub loading snippet")
    for where, config, revision in loads:
        check((where, revision) == (repo, tag), f"snippet loads {where}@{revision}")
        check(config in declared, f"snippet loads config {config}, the YAML declares {sorted(declared)}")
    # configs: YAML data files exist; the table's rows and columns are the files'
    for config in meta["configs"]:
        for entry in config["data_files"]:
            for path in [entry["path"]] if isinstance(entry["path"], str) else entry["path"]:
                check(path in files, f"configs: {path} not on the Hub")
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (\d+) \| `([^`]+)` \| (.*) \|$", _section(text, "Configs"), re.M)
    shards = sum(len(split["shards"]) for split in manifest["files"].values())
    check(len(rows) == shards, f"configs table has {len(rows)} rows for {shards} files")
    for _config, _split, n, rel, columns in rows:
        got = table(rel)
        check(int(n) == got.num_rows, f"{rel}: card says {n} rows, file has {got.num_rows}")
        named = re.findall(r"`([^`]+)`", columns)
        check(named == got.schema.names, f"{rel}: card columns {named} != file columns {got.schema.names}")

    # counts in the first paragraph, from the files
    def whole(config: str, split: str):
        import pyarrow as pa

        return pa.concat_tables([table(shard["path"]) for shard in manifest["files"][f"{config}/{split}"]["shards"]])

    corpus, queries = whole("corpus", "corpus"), whole("queries", "queries")
    lists = {s: whole("lists", s) for s in ("train", "dev") if f"lists/{s}" in manifest["files"]}
    levels = Counter(lv for t in lists.values() for row in t.column("levels").to_pylist() for lv in row)
    check(
        f"{queries.num_rows} queries, {corpus.num_rows} documents" in text,
        f"counts: expected '{queries.num_rows} queries, {corpus.num_rows} documents'",
    )
    for level, n in levels.items():
        check(f"level {level}: {n}" in text, f"per-level count level {level}: {n} not stated")
    n_dev = lists["dev"].num_rows if "dev" in lists else 0
    check(f"{lists['train'].num_rows} train / {n_dev} dev queries" in text, "train/dev query counts")
    for level in manifest["levels"]:  # the ladder table: the levels the runs were generated for
        check(
            f"| {level['value']} | {level['name']} |" in text,
            f"level {level['value']} ({level['name']}) not in the table",
        )
    # provenance: queries files (name + sha256 of the run manifests), generators, judge
    queries_part = _section(text, "Queries")
    for run in run_manifests:
        source = run["queries"]
        check(Path(source["source"]).name in queries_part, f"queries file {source['source']} not named")
        check(source["sha256"][:16] in queries_part, "queries sha256 not stated")
        check(
            f"{source['duplicates_dropped']} duplicate ids" in queries_part,
            "duplicates dropped not stated",
        )
        check(str(Path(source["source"]).parent) not in text, "a machine path of the queries file in the card")
    generators_part = _section(text, "Generators")
    stated = set(re.findall(r"^- `([^`]+)`", generators_part, re.M))
    check(stated == {run["model"]["id"] for run in run_manifests}, f"generators stated {stated}")
    check("revision `None`" not in text and "None" not in generators_part, "a None in the generators")
    policy = manifest["build"]["labels"]
    check("known by construction" not in text, "grades claimed 'known by construction'")
    if manifest.get("judge"):
        judged = _section(text, "Intended vs judged relevance")
        judge = manifest["judge"]
        models = judge["model"] if isinstance(judge["model"], list) else [judge["model"]]
        named = re.search(r"LLM judge \((.*?) via `([^`]+)`, prompt (.*?)\)\. Rows", judged, re.S)
        check(bool(named), "the judge sentence is missing")
        if named:
            stated_models = set(re.findall(r"`([^`]+)`", named.group(1)))
            check(stated_models == {m["id"] for m in models}, f"judge models stated {stated_models}")
            check(named.group(2) == judge["backend"], f"judge backend {named.group(2)}")
            for name, prompt in judge["prompts"].items():
                check(f"`{name}` (sha256 `{prompt['hash'][:16]}" in named.group(3), f"judge prompt {name} or its hash")
        check(schema.AGREEMENT_PLOT in files and f"]({schema.AGREEMENT_PLOT})" in judged, "agreement plot missing")
        kappa = stats["labels"]["kappa_quadratic"]
        check(f"(quadratic): {kappa}" in judged, f"κ {kappa} not stated")
        matrix = stats["labels"]["confusion_matrix"]["matrix"]
        for grade, row in zip(stats["labels"]["grades"], matrix):
            check(f"| {grade} | " + " | ".join(map(str, row)) + " |" in judged, f"matrix row {grade} differs")
    # merged runs: the rule, each run's generator and records (read: counted in the RUN_DIR; kept: in the corpus)
    runs = (manifest.get("merge") or {}).get("runs") or []
    if len(runs) > 1:
        merged = _section(text, "Merged runs")
        check(f"Merge rule: `{manifest['merge']['rule']}`." in merged, "merge rule not stated")
        stated_runs = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| `\w+` \| (\d+) \| (\d+) \|$", merged, re.M)
        check(len(stated_runs) == len(runs), f"merged runs table has {len(stated_runs)} rows for {len(runs)} runs")
        check(sum(int(kept) for *_, kept in stated_runs) == corpus.num_rows, "records kept != documents in corpus")
        check({model for _, model, *_ in stated_runs} == stated, "merged runs' models != generators stated")
        for name, _model, read, kept in stated_runs:
            if records_read is not None:
                check(
                    int(read) == records_read.get(name),
                    f"run {name}: {read} records read, it holds {records_read.get(name)}",
                )
            if manifest["merge"]["rule"] == "keep-all":
                check(read == kept, f"keep-all: run {name} kept {kept} of {read}")
    # what the labels sentence says of the judge and of `agree`'s K, against the manifest and the files
    if policy in ("judged", "agree"):
        judge_ids = {m["id"] for m in models}
        said = re.search(r"the (?:LLM )?judge's \(`([^`]+)`\)", text)
        check(bool(said) and said.group(1) in judge_ids, f"labels sentence names judge {said and said.group(1)}")
    if policy == "agree":
        k = re.search(r"grade is within (\d+) of it", text)
        check(bool(k) and int(k.group(1)) == manifest["build"]["max_disagreement"], "agree: K not the build's")
        gaps = [
            abs(i - j)
            for t in lists.values()
            for ints, judged_grades in zip(
                t.column("intended_levels").to_pylist(), t.column("judge_grades").to_pylist()
            )
            for i, j in zip(ints, judged_grades)
        ]
        check(bool(k) and max(gaps) <= int(k.group(1)), f"agree: files hold |intended - judged| up to {max(gaps)}")
    wording = {"intended": "*asked* to write", "judged": "are the LLM judge's", "agree": "kept only where the judge"}
    check(wording[policy] in text, f"label policy {policy} not described")
    return problems


def audit_mined_card(folder: Path, collection: Path) -> list[str]:
    """Audit the card ``rankladder mine`` wrote in ``folder`` against its manifest, its parquet files, its TSV
    and the real ``collection`` it mined (the files' sha256). Returns the false or missing facts."""
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    card = DatasetCard.load(folder / "README.md")
    text, meta = card.text, card.data.to_dict()
    manifest = json.loads((folder / schema.MANIFEST_FILE).read_text())
    stated = [
        p
        for c in meta["configs"]
        for e in c["data_files"]
        for p in ([e["path"]] if isinstance(e["path"], str) else e["path"])
    ]
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.glob("lists/*.parquet"))
    check(sorted(stated) == on_disk, f"configs name {stated}, the folder holds {on_disk}")
    rows = [row for rel in on_disk for row in pq.read_table(folder / rel).to_pylist()]
    positives = sum(1 for row in rows for level in row["levels"] if level > 0)
    negatives = sum(1 for row in rows for level in row["levels"] if level == 0)
    tsv = (folder / "mined_negatives.tsv").read_text().splitlines()[1:]
    check(f"{len(rows)} queries, {positives} judged positives, {negatives} negatives." in text, "counts")
    check(negatives == len(tsv) == manifest["counts"]["negatives"], f"negatives: {negatives} rows, {len(tsv)} in TSV")
    params = manifest["parameters"]
    check(f"# Mined negatives: {collection.name} ({params['split']} split)" in text, "title: collection or split")
    check(f"Method `{params['method']}`" in text, "method")
    check(f"{params['negatives_per_query']} negatives per query" in text, "negatives per query")
    for rel in sorted(manifest["source"]["hashes"]):
        check(f"| `{rel}` | `{sha256_file(collection / rel)}` |" in text, f"{rel}: sha256 not the collection's")
    check(str(collection.parent) not in card.content and "/tmp/" not in card.content, "a machine path in the card")
    return problems
