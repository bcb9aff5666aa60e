"""A tiny, realistic graded dataset in the DATASET_DIR layout (dataset_builder/schema.py).

For tests and benchmarks only: 12 queries, each with one document per level 3 (answers it),
2 (partly), 1 (on topic, does not answer) and two level-0 documents (other topics).
"""

from __future__ import annotations

import json
from pathlib import Path

from dataset_builder import schema

TOPICS = [
    ("how do vaccines train the immune system",
     "Vaccines expose the immune system to a harmless antigen so that B and T cells learn to recognise it and form memory cells that respond quickly to the real pathogen.",
     "The immune system has B cells that make antibodies and T cells that kill infected cells.",
     "The first smallpox vaccine was introduced by Edward Jenner in 1796."),
    ("why is the sky blue during the day",
     "Sunlight is scattered by air molecules, and shorter blue wavelengths scatter far more than red ones (Rayleigh scattering), so the sky looks blue.",
     "Light is made of many wavelengths, from violet and blue to orange and red.",
     "At sunset the sky often turns red and orange over the horizon."),
    ("how does a refrigerator keep food cold",
     "A refrigerator pumps refrigerant through a cycle: it evaporates inside the fridge absorbing heat, and the compressor pushes that heat out through the coils at the back.",
     "Compressors raise the pressure and temperature of a gas.",
     "Most refrigerators have a vegetable drawer and shelves in the door."),
    ("what causes ocean tides",
     "Tides are caused mainly by the Moon's gravity pulling on the oceans, with the Sun adding a smaller pull, which creates two bulges of water as Earth rotates.",
     "The Moon's gravity is about one sixth of Earth's gravity at its surface.",
     "Surfers check tide tables before heading to the beach."),
    ("how do plants make food from sunlight",
     "Plants make sugar by photosynthesis: chlorophyll captures light energy to turn carbon dioxide and water into glucose, releasing oxygen.",
     "Chlorophyll is the green pigment found in plant leaves.",
     "Houseplants such as ferns prefer indirect light."),
    ("why do we need sleep",
     "Sleep lets the brain consolidate memories and clear metabolic waste, and it restores the body; lack of sleep impairs attention, mood and immunity.",
     "During sleep the brain cycles through REM and non-REM stages.",
     "Many people drink coffee in the morning to feel awake."),
    ("how does a bicycle stay upright",
     "A moving bicycle stays upright because the rider steers into any lean and the fork geometry makes the front wheel turn toward the fall, keeping the wheels under the centre of mass.",
     "Bicycle wheels act like gyroscopes when they spin.",
     "The Tour de France is a famous multi-stage bicycle race."),
    ("what makes bread rise",
     "Yeast ferments the sugars in dough and releases carbon dioxide; the gluten network traps the gas bubbles so the dough expands and rises.",
     "Gluten forms when wheat flour is mixed with water and kneaded.",
     "Sourdough bread has become popular with home bakers."),
    ("how do earthquakes happen",
     "Earthquakes happen when stress built up along a fault between tectonic plates is suddenly released, sending seismic waves through the ground.",
     "Earth's crust is broken into large tectonic plates.",
     "Seismographs were first built in the nineteenth century."),
    ("why does ice float on water",
     "Ice floats because water expands when it freezes: hydrogen bonds lock the molecules into an open lattice, so ice is less dense than liquid water.",
     "Water molecules attract each other through hydrogen bonds.",
     "Ice skating is a popular winter sport in Canada."),
    ("how does the heart pump blood",
     "The heart pumps blood by rhythmic contractions: the atria fill the ventricles, which squeeze blood into the arteries while valves stop it flowing backward.",
     "The human heart has four chambers, two atria and two ventricles.",
     "Heart-shaped chocolates are sold for Valentine's Day."),
    ("how do solar panels make electricity",
     "Solar panels use photovoltaic cells in which light knocks electrons loose in silicon, and the cell's electric field drives them as a current.",
     "Silicon is a semiconductor used in computer chips.",
     "Some homeowners install solar panels to lower their bills."),
]


def graded_lists() -> list[dict]:
    rows = []
    for i, (query, l3, l2, l1) in enumerate(TOPICS):
        others = [TOPICS[(i + 3) % len(TOPICS)][3], TOPICS[(i + 7) % len(TOPICS)][2]]
        docs = [l3, l2, l1, *others]
        rows.append({
            "query_id": f"q{i}", "query": query, "doc_ids": [schema.doc_id(d) for d in docs],
            "documents": docs, "levels": [3, 2, 1, 0, 0],
        })
    return rows


def write_tiny_dataset(folder: str | Path, dev_queries: int = 3) -> Path:
    """Write the DATASET_DIR (parquet per config, README YAML configs, manifest); returns it."""
    import datasets

    folder = Path(folder)
    rows = graded_lists()
    splits = {schema.TRAIN_SPLIT: rows[:-dev_queries], schema.DEV_SPLIT: rows[-dev_queries:]}
    corpus = {}
    for row in rows:
        for did, text in zip(row["doc_ids"], row["documents"]):
            corpus[did] = {"_id": did, "title": "", "text": text}
    tables = {
        (schema.CORPUS_CONFIG, schema.CORPUS_SPLIT): list(corpus.values()),
        (schema.QUERIES_CONFIG, schema.QUERIES_SPLIT): [{"_id": r["query_id"], "text": r["query"]} for r in rows],
    }
    for split, split_rows in splits.items():
        tables[(schema.LISTS_CONFIG, split)] = split_rows
        tables[(schema.QRELS_CONFIG, split)] = [
            {"query-id": r["query_id"], "corpus-id": d, "score": lv}
            for r in split_rows for d, lv in zip(r["doc_ids"], r["levels"])
        ]
    configs: dict[str, list] = {}
    for (config, split), table in tables.items():
        rel = schema.data_file(config, split)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(table, features=schema.features(config)).to_parquet(str(folder / rel))
        configs.setdefault(config, []).append(f"  - split: {split}\n    path: {rel}")
    yaml_configs = "".join(f"- config_name: {c}\n  data_files:\n" + "\n".join(files) + "\n" for c, files in configs.items())
    (folder / "README.md").write_text(f"---\nconfigs:\n{yaml_configs}---\n\n# tiny graded dataset\n", encoding="utf-8")
    (folder / schema.MANIFEST_FILE).write_text(json.dumps(
        {"kind": schema.DATASET_KIND, "version": "0.0.1-test", "content_hash": "tiny-test-hash"}), encoding="utf-8")
    return folder
