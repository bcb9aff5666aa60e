"""A tiny randomly initialised BERT with all-MiniLM-L6-v2's tokenizer, saved as a SentenceTransformer folder.

For tests where the weights do not matter but the code path does (multi-process training): seconds to
train, and every dropout is off so that one process and several compute the very same steps.
"""

from __future__ import annotations

from pathlib import Path


def write_tiny_bert(folder: Path, minilm_path: str, seed: int = 0) -> Path:
    """Transformer (2 layers, width 32, no dropout) + mean pooling, MiniLM's vocabulary."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig.from_pretrained(minilm_path)
    config.update(
        {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
        }
    )
    bert_dir = Path(folder).with_name(Path(folder).name + ".bert")
    BertModel(config).save_pretrained(bert_dir)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (bert_dir / name).write_bytes((Path(minilm_path) / name).read_bytes())
    model = SentenceTransformer(str(bert_dir), device="cpu")  # a plain encoder gets mean pooling
    model.max_seq_length = 64
    model.save(str(folder))
    return Path(folder)
