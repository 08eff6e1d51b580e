"""TEMPORARY stand-in for lumina.testing.make_model (deleted once main has it)."""
import struct

import numpy as np

from lumina._modelfile import expected_tensor_names


def make_model(path, arch="micro", ftype="f16", seed=0):
    assert arch == "micro" and ftype in ("f16", "q8_0")
    q8 = ftype == "q8_0"
    rng = np.random.default_rng(seed)
    n_vocab, state, head, layers, ctx_a, ctx_t, mels = 51864, 64, 2, 1, 1500, 448, 80
    with open(path, "wb") as f:
        f.write(struct.pack("<I11i", 0x67676D6C, n_vocab, ctx_a, state, head, layers,
                            ctx_t, state, head, layers, mels, 7 if q8 else 1))
        f.write(struct.pack("<2i", mels, 201))
        f.write(rng.random(mels * 201, dtype=np.float32).tobytes())
        f.write(struct.pack("<i", 50256))
        for i in range(50256):
            tok = f"t{i}".encode()
            f.write(struct.pack("<I", len(tok)) + tok)
        for name in expected_tensor_names(layers, layers):
            if name == "decoder.token_embedding.weight":
                ne = (state, n_vocab)
            elif name.endswith("positional_embedding"):
                ne = (state, ctx_a if name.startswith("enc") else ctx_t)
            elif name.endswith("weight") and ("conv" in name or "mlp" in name or "attn." in name):
                ne = (state, state)
            else:
                ne = (state,)
            ttype = (8 if q8 else 1) if len(ne) == 2 else 0
            nb = name.encode()
            f.write(struct.pack(f"<3i{len(ne)}i", len(ne), len(nb), ttype, *ne) + nb)
            n = int(np.prod(ne))
            if ttype == 8:  # Q8_0 blocks: f16 scale + 32 int8
                block = np.float16(0.01).tobytes() + bytes(32)
                f.write(block * (n // 32))
            else:
                f.write(rng.standard_normal(n).astype(np.float16 if ttype else np.float32).tobytes())
    return path
