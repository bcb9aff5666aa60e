"""What ``rankladder mine`` writes: the ``lists`` rows, the qrels-style TSV, the card, all in one atomic folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

TSV_NAME = "mined_negatives.tsv"

if TYPE_CHECKING:
    from rankladder.dataset_builder.mining import MiningInput


def lists_rows(data: MiningInput, mined: dict[str, list[dict]]) -> list[dict]:
    """One ``lists`` row per query: judged positives (grade order) then the mined negatives at level 0."""
    doc_text = dict(zip(data.doc_ids, data.doc_texts))
    rows = []
    for qid, query in data.queries.items():
        pos = sorted(((g, d) for d, g in data.judged[qid].items() if g > 0), key=lambda x: (-x[0], x[1]))
        ids = [d for _, d in pos] + [m["doc_id"] for m in mined.get(qid, [])]
        rows.append(
            {
                "query_id": qid,
                "query": query,
                "doc_ids": ids,
                "documents": [doc_text[d] for d in ids],
                "levels": [g for g, _ in pos] + [0] * len(mined.get(qid, [])),
            }
        )
    return rows


def tsv_text(mined: dict[str, list[dict]], rerank: bool) -> str:
    header = ["query-id", "corpus-id", "score", "rank", "retrieval-score"] + (["rerank-score"] if rerank else [])
    lines = ["\t".join(header)]
    for qid, entries in mined.items():
        for m in entries:
            cells = [qid, m["doc_id"], "0", str(m["rank"]), f"{m['score']:.6g}"]
            if rerank:
                cells.append(f"{m['rerank_score']:.6g}")
            lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def card_text(manifest: dict, paths: list[str]) -> str:
    """The folder's card: every fact from ``manifest`` (the collection named by its folder's name, never by a
    path of this machine, with the sha256 of the files read)."""
    import yaml

    from rankladder.dataset_builder import schema

    configs = [{"config_name": schema.LISTS_CONFIG, "data_files": [{"split": schema.TRAIN_SPLIT, "path": paths}]}]
    p, counts, source = manifest["parameters"], manifest["counts"], manifest["source"]
    hashes = "\n".join(f"| `{name}` | `{digest}` |" for name, digest in source["hashes"].items())
    model = f" with `{manifest['model']}`" if manifest["model"] else ""
    return (
        "---\n" + yaml.safe_dump({"configs": configs}, sort_keys=False) + "---\n\n"
        f"# Mined negatives: {Path(source['folder']).name} ({source['split']} split)\n\n"
        f"Method `{p['method']}`{model}, {p['negatives_per_query']} negatives per query (sampling `{p['sampling']}`, "
        f"range {p['range_min']}–{p['range_max'] if p['range_max'] is not None else 'default'}). "
        f"{counts['queries']} queries, {counts['positives']} judged positives, {counts['negatives']} negatives.\n\n"
        f"`lists/train-*.parquet`: judged positives with their grades + mined negatives at level 0; `{TSV_NAME}`: "
        "the negatives with their retrieval rank and score.\n\n"
        f"## Source collection\n\n| file | sha256 |\n|---|---|\n{hashes}\n"
    )


def write_output(out: str | Path, data: MiningInput, mined: dict, manifest: dict, overwrite: bool = False) -> None:
    """Write the folder atomically; it is kept only once ``load_dataset(out, "lists", split="train")`` reads
    back exactly the rows written (``rankladder.core.readback``)."""
    import pyarrow as pa

    from rankladder.core.fsutil import atomic_output_dir, hash_tree, write_json_atomic, write_text_atomic
    from rankladder.core.readback import scratch_cache_beside, verify_dataset
    from rankladder.dataset_builder import schema
    from rankladder.dataset_builder.shards import SplitWriter

    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite, replaces=schema.MANIFEST_FILE) as tmp:
        writer = SplitWriter(tmp, schema.LISTS_CONFIG, schema.TRAIN_SPLIT)
        writer.write(pa.Table.from_pylist(lists_rows(data, mined), schema=writer.schema))
        paths = writer.close()
        write_text_atomic(tmp / TSV_NAME, tsv_text(mined, rerank=manifest["model_cross_encoder"] is not None))
        write_text_atomic(tmp / "README.md", card_text(manifest, paths))
        manifest["content_hash"] = hash_tree(tmp)
        manifest["readback"] = [writer.expectation()]
        write_json_atomic(tmp / schema.MANIFEST_FILE, manifest)
        with scratch_cache_beside(out) as cache:
            verify_dataset(tmp, manifest["readback"], cache_dir=cache)
