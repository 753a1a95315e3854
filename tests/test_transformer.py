"""MultiheadAttention, F.multi_head_attention_forward and the transformer layers against torch:
torch's weights copied in, forward values and every gradient in float64, masks of each kind,
errors, reprs, and a module that subclasses nn.Transformer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn

TOL = dict(rtol=1e-9, atol=1e-11)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's thread pool is slow on a busy 2-core machine for layers this small."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def close(a, b, what=""):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, equal_nan=True, **TOL)


def pair(make):
    """The module built by ``make(lib)`` in both libraries in float64, ndgrad's with torch's
    weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_mod, n_mod = make(torch).double(), make(ndgrad).double()
    result = n_mod.load_state_dict({k: ndgrad.tensor(v.detach().numpy())
                                    for k, v in t_mod.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    return t_mod, n_mod


def tensors(lib, arrays, grad=True):
    return [None if a is None else lib.tensor(a, requires_grad=grad and a.dtype.kind == "f")
            for a in arrays]


def compare(t_mod, n_mod, run, arrays, masks=(), gradgrad=False):
    """``run(module, lib, *tensors, *masks)`` in both libraries: outputs, then the gradients of
    every float input and parameter."""
    t_in, n_in = tensors(torch, arrays), tensors(ndgrad, arrays)
    t_m, n_m = tensors(torch, masks, grad=False), tensors(ndgrad, masks, grad=False)
    t_out, n_out = run(t_mod, torch, *t_in, *t_m), run(n_mod, ndgrad, *n_in, *n_m)
    t_out = [o for o in (t_out if isinstance(t_out, tuple) else (t_out,)) if o is not None]
    n_out = [o for o in (n_out if isinstance(n_out, tuple) else (n_out,)) if o is not None]
    assert len(t_out) == len(n_out)
    for k, (a, b) in enumerate(zip(n_out, t_out, strict=True)):
        close(a, b, f"output {k}")
    t_leaves = [t for t in t_in if t is not None] + list(t_mod.parameters())
    n_leaves = [t for t in n_in if t is not None] + list(n_mod.parameters())
    t_loss = sum(((o + 1) ** 2).mean() * (k + 1) for k, o in enumerate(t_out))
    n_loss = sum(((o + 1) ** 2).mean() * (k + 1) for k, o in enumerate(n_out))
    t_g = torch.autograd.grad(t_loss, t_leaves, allow_unused=True, create_graph=gradgrad)
    n_g = ndgrad.autograd.grad(n_loss, n_leaves, allow_unused=True, create_graph=gradgrad)
    for k, (a, b) in enumerate(zip(n_g, t_g, strict=True)):
        assert (a is None) == (b is None), f"gradient {k}: None vs {b}"
        if a is not None:
            close(a, b, f"gradient {k}")
    if gradgrad:
        t_gg = torch.autograd.grad(sum((g ** 2).sum() for g in t_g), t_leaves)
        n_gg = ndgrad.autograd.grad(sum((g ** 2).sum() for g in n_g), n_leaves)
        for k, (a, b) in enumerate(zip(n_gg, t_gg, strict=True)):
            close(a, b, f"double backward {k}")


RNG = np.random.default_rng(0)
L, S, N, E = 3, 4, 2, 6


def _bool_mask(shape, seed):
    m = np.random.default_rng(seed).random(shape) < 0.3
    m[..., 0] = False  # every query sees at least one key
    return m


MHA_CASES = [
    (dict(), dict(), "self"),
    (dict(batch_first=True, bias=False), dict(need_weights=False), "self"),
    (dict(add_bias_kv=True, add_zero_attn=True), dict(average_attn_weights=False), "cross"),
    (dict(kdim=5, vdim=3), dict(), "cross"),
    (dict(batch_first=True, kdim=5, vdim=3), dict(need_weights=False), "cross"),
    (dict(add_bias_kv=True), dict(need_weights=False), "kv"),
]


@pytest.mark.parametrize("kw,call,kind", MHA_CASES,
                         ids=[f"{k}-{c}-{t}" for k, c, t in MHA_CASES])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_multihead_attention(kw, call, kind, masks):
    t_mod, n_mod = pair(lambda lib: lib.nn.MultiheadAttention(E, 2, **kw))
    bf = kw.get("batch_first", False)
    shape = (lambda n, dim: (N, n, dim)) if bf else (lambda n, dim: (n, N, dim))
    q = RNG.normal(size=shape(L, E))
    k = RNG.normal(size=shape(S, kw.get("kdim", E)))
    v = RNG.normal(size=shape(S, kw.get("vdim", E)))
    src = L if kind == "self" else S
    arrays = [q] if kind == "self" else ([q, k] if kind == "kv" else [q, k, v])
    if masks == "none":
        mask_arrays = [None, None]
    elif masks == "bool":
        mask_arrays = [_bool_mask((N, src), 1), _bool_mask((L, src), 2)]
    else:  # float masks: a 3-D attention mask, one per batch entry and head
        mask_arrays = [RNG.normal(size=(N, src)), RNG.normal(size=(N * 2, L, src))]

    def run(mod, lib, *args):
        *xs, kpm, am = args
        qq, kk, vv = (xs[0],) * 3 if kind == "self" else (
            (xs[0], xs[1], xs[1]) if kind == "kv" else xs)
        return mod(qq, kk, vv, key_padding_mask=kpm, attn_mask=am, **call)

    compare(t_mod, n_mod, run, arrays, mask_arrays)


def test_multihead_attention_unbatched_causal_and_double_backward():
    t_mod, n_mod = pair(lambda lib: lib.nn.MultiheadAttention(E, 3))
    x = RNG.normal(size=(L, E))
    causal = np.triu(np.full((L, L), -np.inf), 1)
    compare(t_mod, n_mod, lambda m, lib, x, am: m(x, x, x, attn_mask=am, is_causal=True,
                                                 need_weights=False), [x], [causal])
    compare(t_mod, n_mod, lambda m, lib, x, kpm: m(x, x, x, key_padding_mask=kpm),
            [x], [np.array([False, True, False])], gradgrad=True)


def test_functional_multi_head_attention_forward():
    """The functional form with separate projection weights and static keys/values."""
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(3, L, N, E))
    weights = [rng.normal(size=(E, E)) * 0.3 for _ in range(4)] + \
        [rng.normal(size=3 * E), rng.normal(size=E)]
    static_k = rng.normal(size=(N * 2, S, E // 2))
    static_v = rng.normal(size=(N * 2, S, E // 2))

    def run(lib, q, k, v, wq, wk, wv, wo, b, bo, sk, sv):
        return lib.nn.functional.multi_head_attention_forward(
            q, k, v, E, 2, None, b, None, None, False, 0.0, wo, bo, training=False,
            use_separate_proj_weight=True, q_proj_weight=wq, k_proj_weight=wk, v_proj_weight=wv,
            static_k=sk, static_v=sv)

    t_in = tensors(torch, [q, k, v, *weights, static_k, static_v])
    n_in = tensors(ndgrad, [q, k, v, *weights, static_k, static_v])
    t_out, n_out = run(torch, *t_in), run(ndgrad, *n_in)
    close(n_out[0], t_out[0])
    close(n_out[1], t_out[1])
    t_g = torch.autograd.grad(t_out[0].square().sum(), t_in, allow_unused=True)
    n_g = ndgrad.autograd.grad(n_out[0].square().sum(), n_in, allow_unused=True)
    for a, b in zip(n_g, t_g, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            close(a, b)


def _sequences(bf, n_src=4, n_tgt=3, d=8):
    src = RNG.normal(size=(N, n_src, d) if bf else (n_src, N, d))
    tgt = RNG.normal(size=(N, n_tgt, d) if bf else (n_tgt, N, d))
    return src, tgt


LAYER_CASES = [
    dict(),
    dict(norm_first=True, activation="gelu", batch_first=True),
    dict(bias=False, layer_norm_eps=1e-3, activation="relu"),
]


@pytest.mark.parametrize("kw", LAYER_CASES, ids=[str(k) for k in LAYER_CASES])
def test_encoder_and_decoder_layers(kw):
    bf = kw.get("batch_first", False)
    src, tgt = _sequences(bf)
    src_kpm = np.array([[False, False, True, True], [False, False, False, False]])
    t_enc, n_enc = pair(lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, 0.0, **kw))
    compare(t_enc, n_enc, lambda m, lib, s, kpm: m(s, src_key_padding_mask=kpm), [src],
            [src_kpm])
    causal = np.triu(np.full((3, 3), -np.inf), 1)
    t_dec, n_dec = pair(lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16, 0.0, **kw))
    compare(t_dec, n_dec, lambda m, lib, t, s, tm, mkpm: m(
        t, s, tgt_mask=tm, memory_key_padding_mask=mkpm, tgt_is_causal=True), [tgt, src],
        [causal, src_kpm])


def test_callable_activation_and_stacks():
    """A callable activation (the same function for both), a stack with a final norm, and
    masks found to be causal."""
    src, tgt = _sequences(False)
    t_enc, n_enc = pair(lambda lib: lib.nn.TransformerEncoder(
        lib.nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation=lib.nn.functional.silu), 2,
        norm=lib.nn.LayerNorm(8)))
    mask = np.triu(np.full((4, 4), -np.inf), 1)
    compare(t_enc, n_enc, lambda m, lib, s, mk: m(s, mask=mk), [src], [mask])
    # (a Module as the decoder layer's activation would not do: torch's deepcopy of the layer,
    # in TransformerDecoder, swaps it for relu through __setstate__)
    t_dec, n_dec = pair(lambda lib: lib.nn.TransformerDecoder(
        lib.nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation=lib.nn.functional.gelu), 2))
    compare(t_dec, n_dec, lambda m, lib, t, s: m(t, s), [tgt, src])
    t_enc, n_enc = pair(lambda lib: lib.nn.TransformerEncoder(
        lib.nn.TransformerEncoderLayer(8, 2, 16, 0.0, activation=lib.nn.GELU()), 2))
    compare(t_enc, n_enc, lambda m, lib, s: m(s), [src])


def test_transformer_matches_torch():
    src, tgt = _sequences(True)
    t_mod, n_mod = pair(lambda lib: lib.nn.Transformer(
        d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16,
        dropout=0.0, batch_first=True))
    tgt_mask = np.asarray(torch.nn.Transformer.generate_square_subsequent_mask(3))
    src_kpm = np.array([[False, False, False, True], [False, False, False, False]])
    compare(t_mod, n_mod, lambda m, lib, s, t, tm, kpm: m(
        s, t, tgt_mask=tm, src_key_padding_mask=kpm, memory_key_padding_mask=kpm),
        [src, tgt], [tgt_mask, src_kpm])
    close(nn.Transformer.generate_square_subsequent_mask(5),
          torch.nn.Transformer.generate_square_subsequent_mask(5))
    m64 = nn.Transformer.generate_square_subsequent_mask(2, dtype=ndgrad.float64)
    assert m64.dtype == ndgrad.float64


def test_dropout_train_and_eval():
    t_mod, n_mod = pair(lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5))
    src, _ = _sequences(False)
    t_mod.eval()
    n_mod.eval()
    compare(t_mod, n_mod, lambda m, lib, s: m(s), [src])
    n_mod.train()
    x = ndgrad.tensor(src)
    assert not np.allclose(n_mod(x).detach().numpy(), n_mod(x).detach().numpy())
    mha = nn.MultiheadAttention(8, 2, dropout=0.9)
    _, w = mha(x.float(), x.float(), x.float())
    assert (w.detach().numpy() == 0).mean() > 0.5  # dropped attention weights


class Seq2Seq(nn.Transformer):
    """A subclass of nn.Transformer as tutorials write one: embeddings and a generator around
    the parent's encoder and decoder."""

    def __init__(self, vocab: int, d_model: int = 8) -> None:
        super().__init__(d_model=d_model, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                         dim_feedforward=16, dropout=0.1, batch_first=True)
        self.embed = nn.Embedding(vocab, d_model)
        self.generator = nn.Linear(d_model, vocab)

    def forward(self, src, tgt):
        mask = self.generate_square_subsequent_mask(tgt.size(1))
        memory = self.encoder(self.embed(src))
        return self.generator(self.decoder(self.embed(tgt), memory, tgt_mask=mask))


def test_subclass_of_transformer_trains():
    model = Seq2Seq(vocab=7)
    opt = ndgrad.optim.Adam(model.parameters(), lr=1e-2)
    src = ndgrad.randint(0, 7, (4, 5))
    losses = []
    for _ in range(15):
        logits = model(src, src)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 7), src.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.8
    assert isinstance(model, nn.Transformer) and "encoder.layers.0.self_attn.in_proj_weight" in \
        model.state_dict()


def test_state_dicts_and_reprs():
    makers = [
        lambda lib: lib.nn.MultiheadAttention(6, 2, kdim=4, vdim=5, add_bias_kv=True),
        lambda lib: lib.nn.MultiheadAttention(6, 3, bias=False, batch_first=True),
        lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16, batch_first=True, norm_first=True),
    ]
    for make in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_mod, n_mod = make(torch), make(ndgrad)
        assert [(k, tuple(v.shape)) for k, v in n_mod.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in t_mod.state_dict().items()]
        assert repr(n_mod) == repr(t_mod)
        # ndgrad -> torch too
        t_mod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in n_mod.state_dict().items()})
    mha = nn.MultiheadAttention(6, 2)
    assert np.all(mha.in_proj_bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (6 + 18))  # xavier_uniform_ over the packed (18, 6) weight
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_nested_tensor_warning_matches_torch():
    for lib in (torch, ndgrad):
        with pytest.warns(UserWarning, match="norm_first was True"):
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, norm_first=True), 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, batch_first=True), 1)


def _error(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.MultiheadAttention(6, 4),
    lambda lib: lib.nn.MultiheadAttention(0, 2),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(lib.zeros(3, 2, 6), lib.zeros(4, 2, 6),
                                                lib.zeros(5, 2, 6)),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(lib.zeros(3, 2, 6), lib.zeros(3, 2, 6),
                                                lib.zeros(3, 2, 6), attn_mask=lib.zeros(2, 3)),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(lib.zeros(3, 2, 6), lib.zeros(3, 2, 6),
                                                lib.zeros(3, 6)),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(lib.zeros(3, 2, 5), lib.zeros(3, 2, 5),
                                                lib.zeros(3, 2, 5)),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(lib.zeros(3, 2, 6), lib.zeros(3, 2, 6),
                                                lib.zeros(3, 2, 6), is_causal=True),
    lambda lib: lib.nn.MultiheadAttention(6, 2)(
        lib.zeros(3, 2, 6), lib.zeros(3, 2, 6), lib.zeros(3, 2, 6),
        key_padding_mask=lib.zeros(2, 3, dtype=lib.int64)),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
    lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.zeros(3, 2, 8), lib.zeros(3, 3, 8)),
    lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.zeros(3, 2, 8), lib.zeros(3, 2, 6)),
])
def test_errors_match_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_kind, t_msg = _error(lambda: call(torch))
        n_kind, n_msg = _error(lambda: call(ndgrad))
    assert n_kind is t_kind and t_kind is not AttributeError
    assert n_msg == t_msg.replace("torch.", "ndgrad.")


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_as_torch(need_weights):
    """A batch entry whose keys are all padding: nan with need_weights (plain softmax), zeros
    without (scaled_dot_product_attention's safe softmax), as torch gives."""
    t_mod, n_mod = pair(lambda lib: lib.nn.MultiheadAttention(E, 2))
    x = RNG.normal(size=(L, N, E))
    kpm = np.array([[True] * L, [False, True, False]])
    compare(t_mod, n_mod, lambda m, lib, x, kpm: m(x, x, x, key_padding_mask=kpm,
                                                   need_weights=need_weights)[0][:, 1:],
            [x], [kpm])
    out = n_mod(*[ndgrad.tensor(x)] * 3, key_padding_mask=ndgrad.tensor(kpm),
                need_weights=need_weights)[0]
    t_out = t_mod(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm),
                  need_weights=need_weights)[0]
    close(out, t_out)


def test_scaled_dot_product_attention_fully_masked_row():
    rng = np.random.default_rng(3)
    arrays = list(rng.normal(size=(3, 1, 2, 3, 4)))
    mask = np.ones((3, 3), bool)
    mask[0] = False
    t_in, n_in = tensors(torch, arrays), tensors(ndgrad, arrays)
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_in, attn_mask=torch.tensor(mask))
    n_out = ndgrad.nn.functional.scaled_dot_product_attention(*n_in,
                                                              attn_mask=ndgrad.tensor(mask))
    close(n_out, t_out)
    for a, b in zip(ndgrad.autograd.grad(n_out.square().sum(), n_in),
                    torch.autograd.grad(t_out.square().sum(), t_in), strict=True):
        close(a, b)
