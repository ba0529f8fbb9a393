#!/usr/bin/python3
"""Training and decoding throughput of nmt's three architectures written as plain PyTorch, for comparison with
nmt_bench (bench/train_bench.cpp) on the same library: Debian's python3-torch is LibTorch 1.13.1, the build nmt
links.

The models are what a PyTorch user would write for the same architectures and sizes (the parameter counts equal
nmt's, see `parameters` in the JSON):
  - seq2seq (d2l.ai §10.7 shapes): embedding -> multi-layer nn.GRU encoder over packed sequences; the decoder GRU
    reads the target embedding concatenated with the encoder's final top-layer state (a fixed context) and
    starts from the encoder's final state; nn.Linear to the target vocabulary.
  - seq2seq_attention (Bahdanau et al. 2015, d2l.ai §11.4): the same encoder; at each target step the decoder's
    previous top-layer state queries the encoder outputs through additive attention (three bias-free nn.Linear:
    keys projected once per batch, query, score vector), and the GRU reads [context, embedding].
  - transformer (Vaswani et al. 2017): post-norm encoder and decoder layers built from nn.MultiheadAttention
    (batch_first, bias-free projections as nmt's), nn.LayerNorm and a ReLU feed-forward block; sinusoidal
    positional encoding; embeddings scaled by sqrt(d_model).
  - initialisation as nmt's: Xavier-uniform Linear/GRU weight matrices, Transformer embeddings N(0, d^-1/2).
  - one training step: gradients reset, teacher forcing (<bos> + target[:, :-1]), F.cross_entropy with
    ignore_index=<pad> (mean over target tokens, optional label smoothing), backward,
    nn.utils.clip_grad_norm_ (1.0), torch.optim.Adam at a constant learning rate.
  - greedy decoding under torch.no_grad(), batched (sentences sorted by length, every row kept until all have
    emitted <eos> or num_steps steps ran) and one sentence at a time. The Transformer decoder caches each layer's
    inputs and attends from the newest position only.

Data as nmt reads it (src/data/corpus.cpp, preprocess.cpp, vocab.cpp): each side lower-cased, U+202F and U+00A0
turned into spaces, a space put before , . ! ? that follow a non-space, tokens split on spaces; vocabularies of
the tokens seen at least min_freq times, <unk> <pad> <bos> <eos> first, then by count (ties by byte order);
sequences truncated to num_steps with <eos> appended when it fits. Every pair is used (no held-out split), in
random batches (a fresh permutation per epoch) trimmed to their longest sentence, as nmt_bench does.

Work that differs from nmt (it changes the FLOP count, not the tokens; step_flops counts what runs here): the
output layer and the loss run on every target position of the batch (nmt: valid positions only); while decoding,
the Transformer recomputes the key/value projections of its cached inputs and of the encoder outputs at each step
(nmt caches the projections), and finished sentences stay in the batch (nmt drops them).

Prints one JSON object (the fields of nmt_bench's) on stdout and one human-readable line on stderr.
"""

import argparse
import ctypes
import gc
import json
import math
import os
import re
import resource
import sys
import time
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RESERVED = ('<unk>', '<pad>', '<bos>', '<eos>')
UNK, PAD, BOS, EOS = range(4)


# ------------------------------------------------------------------------------------------------------- data

SPACE_BEFORE_PUNCT = re.compile(r'(?<=[^ ])([,.!?])')


def normalize(text):
    """Text as nmt's preprocessing leaves each side of a line: lower case, U+202F/U+00A0 -> space, and a space
    inserted before , . ! ? when the previous character is not a space. Returns a str."""
    return SPACE_BEFORE_PUNCT.sub(r' \1', text.lower().replace('\u202f', ' ').replace('\xa0', ' '))


def tokenize(text):
    """Tokens of a normalized side: split on single spaces, empty tokens dropped. Returns a list of str."""
    return [t for t in text.split(' ') if t]


def read_pairs(path, limit=0):
    """Sentence pairs of a tab-separated `English<TAB>French` file as two lists of token lists. Skips lines without
    a tab, lines that are not UTF-8 and lines with an empty side, as nmt does; `limit` > 0 keeps the first
    `limit` usable pairs. Raises OSError when the file cannot be read, ValueError when no line is usable.

    The whole text is normalized at once: a space that this puts at the start of a side (after a tab or a
    newline) only adds an empty token, which tokenize drops, so the tokens equal those of each side alone."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    try:
        lines = data.decode('utf-8').split('\n')
    except UnicodeDecodeError:  # keep the lines that decode
        lines = []
        for raw in data.split(b'\n'):
            try:
                lines.append(raw.decode('utf-8'))
            except UnicodeDecodeError:
                lines.append('')
    lines = normalize('\n'.join(line.rstrip('\r') for line in lines)).split('\n')
    sources, targets = [], []
    for line in lines:
        fields = line.split('\t')
        if len(fields) < 2:
            continue
        src, tgt = tokenize(fields[0]), tokenize(fields[1])
        if not src or not tgt:
            continue
        sources.append(src)
        targets.append(tgt)
        if limit and len(sources) >= limit:
            break
    if not sources:
        raise ValueError(f'{path}: no usable sentence pair')
    return sources, targets


class Vocabulary:
    """Token <-> id map: the four reserved tokens, then every token seen at least `min_freq` times, most frequent
    first (ties in byte order). Unknown tokens map to <unk> (id 0)."""

    def __init__(self, sentences, min_freq):
        counts = Counter(tok for sentence in sentences for tok in sentence)
        kept = sorted((tok for tok, n in counts.items() if n >= min_freq and tok not in RESERVED),
                      key=lambda tok: (-counts[tok], tok.encode('utf-8')))
        self.tokens = list(RESERVED) + kept
        self.ids = {tok: i for i, tok in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def encode(self, tokens, num_steps):
        """Ids of `tokens` cut to num_steps, <eos> appended when it fits, padded with <pad>: (list of num_steps
        ints, valid length)."""
        ids = [self.ids.get(tok, UNK) for tok in tokens[:num_steps]]
        if len(ids) < num_steps:
            ids.append(EOS)
        return ids + [PAD] * (num_steps - len(ids)), len(ids)


def encode_all(sentences, vocab, num_steps):
    """`[n, num_steps]` int64 ids and `[n]` int64 valid lengths of every sentence."""
    rows, lens = zip(*(vocab.encode(s, num_steps) for s in sentences))
    return torch.tensor(rows, dtype=torch.long), torch.tensor(lens, dtype=torch.long)


class RandomBatches:
    """Endless random batches of a parallel dataset: a fresh permutation per epoch (torch.randperm with its own
    generator), each batch trimmed to its longest source and target. next() returns
    (src [B, Ts], src_len [B], tgt [B, Tt], tgt_len [B])."""

    def __init__(self, src, src_len, tgt, tgt_len, batch_size, seed):
        self.tensors = (src, src_len, tgt, tgt_len)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.pending = []

    def __next__(self):
        if not self.pending:
            order = torch.randperm(self.tensors[0].size(0), generator=self.generator)
            self.pending = list(order.split(self.batch_size))[::-1]
        index = self.pending.pop()
        src, src_len, tgt, tgt_len = (t.index_select(0, index) for t in self.tensors)
        return src[:, :int(src_len.max())], src_len, tgt[:, :int(tgt_len.max())], tgt_len


# ----------------------------------------------------------------------------------------------------- models

def init_weights(model):
    """Xavier-uniform for every nn.Linear weight and every GRU weight matrix (biases keep PyTorch's defaults)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
        elif isinstance(module, nn.GRU):
            for name, p in module.named_parameters():
                if name.startswith('weight'):
                    nn.init.xavier_uniform_(p)


class GRUEncoder(nn.Module):
    """Embedding and a multi-layer GRU over packed sequences (padding is not read)."""

    def __init__(self, vocab_size, embed_size, hiddens, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, hiddens, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)

    def forward(self, src, src_len):
        """src [B, Ts], src_len [B] -> outputs [B, Ts, H] (zeros past each length), final state [layers, B, H]."""
        packed = pack_padded_sequence(self.embedding(src), src_len.cpu(), batch_first=True, enforce_sorted=False)
        outputs, state = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        return outputs, state


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention: score(q, k) = w_v . tanh(W_q q + W_k k), softmax over the valid keys,
    dropout on the weights, weighted sum of the values."""

    def __init__(self, hiddens, dropout):
        super().__init__()
        self.W_k = nn.Linear(hiddens, hiddens, bias=False)
        self.W_q = nn.Linear(hiddens, hiddens, bias=False)
        self.w_v = nn.Linear(hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query, keys, values, key_mask):
        """query [B, H], keys [B, Ts, H] (already through W_k), values [B, Ts, H], key_mask [B, Ts] (True = valid)
        -> context [B, H]."""
        scores = self.w_v(torch.tanh(self.W_q(query).unsqueeze(1) + keys)).squeeze(-1)  # [B, Ts]
        weights = torch.softmax(scores.masked_fill(~key_mask, float('-inf')), dim=-1)
        return torch.bmm(self.dropout(weights).unsqueeze(1), values).squeeze(1)


class GRUSeq2Seq(nn.Module):
    """GRU encoder-decoder; with `attention` the decoder attends to the encoder outputs at every step (Bahdanau),
    else it reads the encoder's final top-layer state as a fixed context."""

    def __init__(self, src_vocab, tgt_vocab, embed_size, hiddens, layers, dropout, attention):
        super().__init__()
        self.encoder = GRUEncoder(src_vocab, embed_size, hiddens, layers, dropout)
        self.embedding = nn.Embedding(tgt_vocab, embed_size)
        self.rnn = nn.GRU(embed_size + hiddens, hiddens, layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.attention = AdditiveAttention(hiddens, dropout) if attention else None
        self.out = nn.Linear(hiddens, tgt_vocab)
        init_weights(self)

    def init_state(self, src, src_len):
        """Decoder state after encoding src [B, Ts] with lengths src_len [B]: a dict of tensors."""
        outputs, hidden = self.encoder(src, src_len)
        if self.attention is None:
            return {'hidden': hidden, 'context': hidden[-1]}
        mask = torch.arange(src.size(1), device=src.device).unsqueeze(0) < src_len.unsqueeze(1)
        return {'hidden': hidden, 'values': outputs, 'keys': self.attention.W_k(outputs), 'mask': mask}

    def decode(self, tgt, state):
        """tgt [B, Tt] decoder input ids -> logits [B, Tt, V]; advances `state`."""
        emb = self.embedding(tgt)  # [B, Tt, E]
        if self.attention is None:
            context = state['context'].unsqueeze(1).expand(-1, tgt.size(1), -1)
            out, state['hidden'] = self.rnn(torch.cat([emb, context], dim=-1), state['hidden'])
            return self.out(out)
        outs = []
        for t in range(tgt.size(1)):
            context = self.attention(state['hidden'][-1], state['keys'], state['values'], state['mask'])
            out, state['hidden'] = self.rnn(torch.cat([context, emb[:, t]], dim=-1).unsqueeze(1), state['hidden'])
            outs.append(out)
        return self.out(torch.cat(outs, dim=1))

    def forward(self, src, src_len, tgt):
        return self.decode(tgt, self.init_state(src, src_len))


def sinusoid_table(max_len, d):
    """[max_len, d] positional encodings: sin(pos / 10000^(2i/d)) in column 2i, cos of the same in 2i + 1."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    angles = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    table = torch.zeros(max_len, d, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, :d // 2])
    return table.float()


class FeedForward(nn.Sequential):
    """Position-wise Linear(d, ffn) -> ReLU -> Linear(ffn, d)."""

    def __init__(self, d, ffn):
        super().__init__(nn.Linear(d, ffn), nn.ReLU(inplace=True), nn.Linear(ffn, d))


class EncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer: x = LN(x + drop(selfattn(x))); x = LN(x + drop(ffn(x)))."""

    def __init__(self, d, heads, ffn, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, bias=False, batch_first=True)
        self.ffn = FeedForward(d, ffn)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask):
        """x [B, Ts, d], mask [B * heads, Ts, Ts] (True = a padding key, not attended) -> [B, Ts, d].

        The padding goes in as attn_mask, not key_padding_mask: with dropout 0 in eval mode, 1.13's
        nn.MultiheadAttention would otherwise take its fused inference path, which requires projection biases."""
        a, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        x = self.norm1(x + self.drop(a))
        return self.norm2(x + self.drop(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Post-norm Transformer decoder layer: causal self-attention, attention over the encoder outputs, FFN."""

    def __init__(self, d, heads, ffn, dropout):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, bias=False, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, bias=False, batch_first=True)
        self.ffn = FeedForward(d, ffn)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, past, memory, memory_pad_mask):
        """x [B, T, d] (the positions after the `past` ones), past [B, P, d] earlier inputs of this layer or None,
        memory [B, Ts, d], memory_pad_mask [B, Ts] -> ([B, T, d], this layer's inputs so far [B, P + T, d])."""
        seen = x if past is None else torch.cat([past, x], dim=1)
        P, T = seen.size(1) - x.size(1), x.size(1)
        # Query i (position P + i) must not see keys after P + i. The mask is passed even when it hides nothing
        # (one new position), which keeps 1.13's nn.MultiheadAttention off its fused inference path (see
        # EncoderLayer).
        causal = torch.ones(T, P + T, dtype=torch.bool, device=x.device).triu(P + 1)
        a, _ = self.self_attn(x, seen, seen, attn_mask=causal, need_weights=False)
        x = self.norm1(x + self.drop(a))
        c, _ = self.cross_attn(x, memory, memory, key_padding_mask=memory_pad_mask, need_weights=False)
        x = self.norm2(x + self.drop(c))
        return self.norm3(x + self.drop(self.ffn(x))), seen


class Transformer(nn.Module):
    """Encoder-decoder Transformer (post-norm, separate source/target embeddings, untied output layer)."""

    def __init__(self, src_vocab, tgt_vocab, d, heads, ffn, layers, dropout, max_len=1000):
        super().__init__()
        self.scale = math.sqrt(d)
        self.src_embedding = nn.Embedding(src_vocab, d)
        self.tgt_embedding = nn.Embedding(tgt_vocab, d)
        self.register_buffer('positions', sinusoid_table(max_len, d), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d, heads, ffn, dropout) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(d, heads, ffn, dropout) for _ in range(layers))
        self.out = nn.Linear(d, tgt_vocab)
        init_weights(self)
        nn.init.normal_(self.src_embedding.weight, std=d ** -0.5)
        nn.init.normal_(self.tgt_embedding.weight, std=d ** -0.5)

    def embed(self, embedding, ids, offset):
        """ids [B, T] at positions offset.. -> dropout(embedding * sqrt(d) + positional encoding) [B, T, d]."""
        return self.drop(embedding(ids) * self.scale + self.positions[offset:offset + ids.size(1)])

    def init_state(self, src, src_len):
        """Encodes src [B, Ts] (lengths src_len [B]); returns the decoder state (a dict)."""
        pad_mask = torch.arange(src.size(1), device=src.device).unsqueeze(0) >= src_len.unsqueeze(1)  # [B, Ts]
        heads = self.encoder[0].attn.num_heads
        self_mask = pad_mask.repeat_interleave(heads, dim=0).unsqueeze(1).expand(-1, src.size(1), -1)
        x = self.embed(self.src_embedding, src, 0)
        for layer in self.encoder:
            x = layer(x, self_mask)
        return {'memory': x, 'pad_mask': pad_mask, 'past': [None] * len(self.decoder), 'steps': 0}

    def decode(self, tgt, state):
        """tgt [B, Tt] decoder input ids (continuing state['steps']) -> logits [B, Tt, V]; advances `state`."""
        x = self.embed(self.tgt_embedding, tgt, state['steps'])
        for i, layer in enumerate(self.decoder):
            x, state['past'][i] = layer(x, state['past'][i], state['memory'], state['pad_mask'])
        state['steps'] += tgt.size(1)
        return self.out(x)

    def forward(self, src, src_len, tgt):
        return self.decode(tgt, self.init_state(src, src_len))


def make_model(a, src_vocab, tgt_vocab):
    """The model named by a.model at the sizes of the command line."""
    if a.model in ('seq2seq', 'seq2seq_attention'):
        return GRUSeq2Seq(src_vocab, tgt_vocab, a.embed, a.hiddens, a.layers, a.dropout,
                          attention=a.model == 'seq2seq_attention')
    return Transformer(src_vocab, tgt_vocab, a.hiddens, a.heads, a.ffn, a.layers, a.dropout)


def step_flops(a, tgt_vocab, batch, src_steps, tgt_steps, src_tokens):
    """Matrix-multiply FLOPs of one training step (forward + backward = 3 x forward), counted as nmt_bench's
    step_flops counts them, for the work done here: batches trimmed, the GRU encoder on the valid source tokens
    (packed), the output layer on all batch x tgt_steps positions. E embed, H hiddens, L layers, F FFN width,
    V target vocabulary, B batch, Ts/Tt source/target columns, S source tokens."""
    E, H, L, Fw, V = a.embed, a.hiddens, a.layers, a.ffn, tgt_vocab
    B, Ts, Tt, S = batch, src_steps, tgt_steps, src_tokens
    if a.model in ('seq2seq', 'seq2seq_attention'):
        upper = (L - 1) * 3 * H * (2 * H)
        f = S * (3 * H * (E + H) + upper) + B * Tt * (3 * H * (E + 2 * H) + upper) + B * Tt * H * V
        if a.model == 'seq2seq_attention':
            f += B * Ts * H * H + B * Tt * H * H + B * Tt * Ts * 2 * H
    else:
        f = L * (B * Ts * (4 * H * H + 2 * H * Fw) + B * Ts * Ts * 2 * H)
        f += L * (B * Tt * (6 * H * H + 2 * H * Fw) + B * Ts * 2 * H * H + B * Tt * Tt * 2 * H + B * Tt * Ts * 2 * H)
        f += B * Tt * H * V
    return 3.0 * 2.0 * f


# --------------------------------------------------------------------------------------------------- decoding

@torch.no_grad()
def greedy_translate(model, src_vocab, sources, num_steps, batch_size):
    """Greedy decoding of token lists `sources`, `batch_size` sentences at a time (sorted by length). A batch
    runs until every row has emitted <eos> or num_steps steps. Returns (output id lists without <eos>, decoder
    steps summed over sentences (the <eos> step included), sentences that emitted <eos>)."""
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    outputs, total_steps, total_eos = [None] * len(sources), 0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        src, src_len = encode_all([sources[i] for i in idx], src_vocab, num_steps)
        src = src[:, :int(src_len.max())]
        state = model.init_state(src, src_len)
        y = torch.full((len(idx), 1), BOS, dtype=torch.long)
        done = torch.zeros(len(idx), dtype=torch.bool)
        steps = torch.full((len(idx),), num_steps, dtype=torch.long)
        emitted = []
        for t in range(num_steps):
            y = model.decode(y, state).argmax(dim=-1)  # [B, 1]
            emitted.append(y)
            newly = (y.squeeze(1) == EOS) & ~done
            steps[newly] = t + 1
            done |= newly
            if bool(done.all()):
                break
        ids = torch.cat(emitted, dim=1).tolist()
        for r, i in enumerate(idx):
            n = int(steps[r])
            outputs[i] = ids[r][:n - 1] if ids[r][n - 1] == EOS else ids[r][:n]
        total_steps += int(steps.sum())
        total_eos += int(done.sum())
    return outputs, total_steps, total_eos


def time_decoding_interleaved(model, src_vocab, batched, single, num_steps, batch_size, rounds):
    """Batched decoding of `batched` against one-at-a-time decoding of `single`, in `rounds` interleaved rounds
    as nmt_bench runs them: round r decodes the r-th slice of both sets (batched slices end on whole batches
    where the set allows). Returns {"rounds", "batched", "batch1", "speedup", "speedup_per_round"} as nmt_bench
    (a mode with an empty set is left out)."""
    rounds = max(1, rounds)
    batches = -(-len(batched) // batch_size)
    totals = {}

    def run(mode, items, bs):
        if not items:
            return 0.0
        t = totals.setdefault(mode, {'sentences': 0, 'batch_size': bs, 'seconds': 0.0, 'steps': 0, 'eos': 0,
                                     'rates': []})
        start = time.perf_counter()
        outs, steps, eos = greedy_translate(model, src_vocab, items, num_steps, bs)
        seconds = time.perf_counter() - start
        t['sentences'] += len(outs)
        t['seconds'] += seconds
        t['steps'] += steps
        t['eos'] += eos
        t['rates'].append(len(outs) / seconds)
        return t['rates'][-1]

    def batched_end(r):
        return len(batched) if r == rounds else min(len(batched), (r * batches // rounds) * batch_size)

    per_round = []
    for r in range(rounds):
        a = run('batched', batched[batched_end(r):batched_end(r + 1)], batch_size)
        b = run('batch1', single[r * len(single) // rounds:(r + 1) * len(single) // rounds], 1)
        if a > 0 and b > 0:
            per_round.append(a / b)
    out = {'rounds': rounds}
    for mode, t in totals.items():
        n = max(1, t['sentences'])
        out[mode] = {'sentences': t['sentences'], 'batch_size': t['batch_size'], 'seconds': t['seconds'],
                     'sentences_per_second': t['sentences'] / t['seconds'], 'mean_output_tokens': t['steps'] / n,
                     'eos_fraction': t['eos'] / n, 'round_sentences_per_second': t['rates']}
    if 'batched' in out and 'batch1' in out:
        out['speedup'] = out['batched']['sentences_per_second'] / out['batch1']['sentences_per_second']
        out['speedup_per_round'] = per_round
    return out


def stride_sample(items, n):
    """n items spread evenly over `items` (item k * len / n for k < n); all of them when n >= len."""
    n = min(n, len(items))
    return [items[k * len(items) // n] for k in range(n)]


# ---------------------------------------------------------------------------------------------------- runtime

def blas_info():
    """The OpenBLAS this process loaded: {"core", "chosen_by", "cpu_features", "openblas_threads", "library"}
    (core '' and threads -1 when it cannot be asked)."""
    path = ''
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split()
            name = fields[-1] if len(fields) >= 6 else ''
            if os.path.basename(name).startswith(('libopenblas', 'libblas')):
                path = name
                break
    core, threads = '', -1
    if path:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = lib.openblas_get_corename().decode()
            threads = lib.openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    flags = set()
    with open('/proc/cpuinfo') as cpuinfo:
        for line in cpuinfo:
            if line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
                break
    features = ' '.join(f for f in ('avx512f', 'avx2', 'fma') if f in flags) or 'none'
    return {'core': core, 'chosen_by': 'user' if 'OPENBLAS_CORETYPE' in os.environ else 'openblas',
            'cpu_features': features, 'openblas_threads': threads, 'library': path}


class GemmProbe:
    """The machine's GEMM rate of the moment: sample(reps) is the best GFLOP/s of `reps` products of two n x n
    float matrices into a preallocated output (probed right before each timed step, as nmt_bench does)."""

    def __init__(self, n):
        self.n = n
        self.a, self.b, self.c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        torch.mm(self.a, self.b, out=self.c)

    def sample(self, reps):
        best = math.inf
        for _ in range(reps):
            start = time.perf_counter()
            torch.mm(self.a, self.b, out=self.c)
            best = min(best, time.perf_counter() - start)
        return 2.0 * self.n ** 3 / best / 1e9


def median(values):
    """Median of a list of numbers (0.0 for an empty list)."""
    v = sorted(values)
    if not v:
        return 0.0
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


def peak_rss_bytes():
    """Peak resident memory of this process so far, bytes (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='seq2seq', choices=['seq2seq', 'seq2seq_attention', 'transformer'])
    p.add_argument('--label', default='custom', help='size label copied into the JSON (e.g. book, large)')
    p.add_argument('--embed', type=int, default=32, help='embedding width (GRU models)')
    p.add_argument('--hiddens', type=int, default=32, help='GRU state width / Transformer d_model')
    p.add_argument('--layers', type=int, default=2, help='GRU layers / Transformer encoder and decoder layers')
    p.add_argument('--heads', type=int, default=4, help='Transformer attention heads')
    p.add_argument('--ffn', type=int, default=64, help='Transformer FFN width')
    p.add_argument('--dropout', type=float, default=0.1)
    p.add_argument('--batch', type=int, default=64, help='sentence pairs per training step')
    p.add_argument('--lr', type=float, default=0.005, help='Adam learning rate, constant')
    p.add_argument('--label-smoothing', type=float, default=0.0, help='label smoothing of the loss')
    p.add_argument('--grad-clip', type=float, default=1.0, help='gradient-norm bound (0 = off)')
    p.add_argument('--num-steps', type=int, default=10, help='sequence length in tokens, <eos> included')
    p.add_argument('--min-freq', type=int, default=2)
    p.add_argument('--threads', type=int, default=1, help='torch intra-op threads (0 = torch default)')
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--data', default='data/fra-eng/fra.txt')
    p.add_argument('--num-examples', type=int, default=0, help='use only the first N pairs (0 = all)')
    p.add_argument('--warmup', type=int, default=3, help='untimed warm-up batches')
    p.add_argument('--batches', type=int, default=30, help='timed training batches')
    p.add_argument('--decode', type=int, default=2000, help='sentences for batched greedy decoding (0 = skip)')
    p.add_argument('--decode-batch', type=int, default=128)
    p.add_argument('--decode1', type=int, default=500, help='sentences decoded one at a time (0 = skip)')
    p.add_argument('--decode-rounds', type=int, default=8,
                   help='rounds that interleave batched and one-at-a-time decoding')
    p.add_argument('--decode-train-seconds', type=float, default=0.0,
                   help='untimed training after the timed batches, before decoding')
    p.add_argument('--gemm-size', type=int, default=1024, help='n of the n x n sgemm ceiling (0 = skip)')
    a = p.parse_args()
    if a.batches < 1:
        p.error('--batches must be positive')
    if a.model == 'transformer' and a.hiddens % a.heads:
        p.error(f'--heads {a.heads} must divide --hiddens {a.hiddens}')
    return a


def main():
    a = parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    blas = blas_info()

    start = time.perf_counter()
    # The corpus is millions of small lists: the cyclic garbage collector stays off while they are built, and
    # gc.freeze() then keeps them out of the collections that run during training.
    gc.disable()
    sources, targets = read_pairs(a.data, a.num_examples)
    src_vocab, tgt_vocab = Vocabulary(sources, a.min_freq), Vocabulary(targets, a.min_freq)
    batches = RandomBatches(*encode_all(sources, src_vocab, a.num_steps), *encode_all(targets, tgt_vocab, a.num_steps),
                            a.batch, a.seed)
    del targets
    gc.freeze()
    gc.enable()
    load_seconds = time.perf_counter() - start

    model = make_model(a, len(src_vocab), len(tgt_vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=a.lr)
    model.train()

    def train_step():
        """One update on the next batch; returns (batch, summed loss over its target tokens, tokens)."""
        src, src_len, tgt, tgt_len = batch = next(batches)
        optimizer.zero_grad(set_to_none=True)
        dec_in = torch.cat([torch.full((tgt.size(0), 1), BOS, dtype=torch.long), tgt[:, :-1]], dim=1)
        logits = model(src, src_len, dec_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=PAD,
                               label_smoothing=a.label_smoothing)
        loss.backward()
        if a.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
        optimizer.step()
        tokens = int(tgt_len.sum())
        return batch, loss.item() * tokens, tokens

    timed_seconds = timed_tokens = timed_flops = loss_sum = 0.0
    min_step = math.inf
    probe = GemmProbe(a.gemm_size) if a.gemm_size > 0 else None
    probe_rates, step_percents = [], []  # per timed step: sgemm GFLOP/s right before it, step rate in % of it
    for i in range(a.warmup + a.batches):
        probe_rate = probe.sample(2) if probe and i >= a.warmup else 0.0
        start = time.perf_counter()
        (src, src_len, tgt, _), batch_loss, tokens = train_step()
        seconds = time.perf_counter() - start
        if i < a.warmup:
            continue
        loss_sum += batch_loss
        timed_seconds += seconds
        min_step = min(min_step, seconds)
        timed_tokens += tokens
        flops = step_flops(a, len(tgt_vocab), src.size(0), src.size(1), tgt.size(1), int(src_len.sum()))
        timed_flops += flops
        if probe:
            probe_rates.append(probe_rate)
            step_percents.append(100.0 * flops / seconds / 1e9 / probe_rate)
    rss_after_train = peak_rss_bytes()
    gemm = median(probe_rates)
    gemm_after = probe.sample(10) if probe else 0.0
    gflops = timed_flops / timed_seconds / 1e9
    percent = median(step_percents)

    result = {
        'impl': 'pytorch', 'model': a.model, 'size': a.label, 'embed_size': a.embed, 'num_hiddens': a.hiddens,
        'num_layers': a.layers, 'num_heads': a.heads, 'ffn_num_hiddens': a.ffn, 'dropout': a.dropout,
        'batch_size': a.batch, 'lr': a.lr, 'num_steps': a.num_steps, 'min_freq': a.min_freq, 'pairs': len(sources),
        'src_vocab': len(src_vocab), 'tgt_vocab': len(tgt_vocab),
        'parameters': sum(p.numel() for p in model.parameters()), 'load_seconds': load_seconds,
        'warmup_batches': a.warmup, 'timed_batches': a.batches, 'timed_seconds': timed_seconds,
        'timed_tokens': timed_tokens, 'tokens_per_second': timed_tokens / timed_seconds,
        'ms_per_step': 1e3 * timed_seconds / a.batches, 'ms_per_step_min': 1e3 * min_step,
        'gflop_per_step': timed_flops / a.batches / 1e9, 'gflops': gflops,
        'flops_counted': 'matmuls only: 3 x 2 x (weights x positions + attention scores/values); '
                         'GRU encoder on valid source tokens (packed), output layer on every target position, '
                         'batches trimmed',
        'gemm_size': a.gemm_size, 'gemm_ceiling_gflops': gemm, 'gemm_probe_gflops': probe_rates,
        'gemm_ceiling_after_gflops': gemm_after, 'percent_of_ceiling': percent,
        'percent_of_ceiling_per_step': step_percents,
        'percent_of_median_ceiling': 100.0 * gflops / gemm if gemm > 0 else 0.0,
        'percent_of_ceiling_after': 100.0 * gflops / gemm_after if gemm_after > 0 else 0.0,
        'ceiling_method': 'sgemm of two gemm_size^2 matrices, best of 2, right before every timed step; '
                          'percent_of_ceiling = median over timed steps of step GFLOP/s / that probe',
        'train_loss': loss_sum / max(1.0, timed_tokens),  # nats per target token over the timed batches
        'torch_threads': torch.get_num_threads(), 'torch_version': torch.__version__,
        'python': sys.version.split()[0], 'blas': blas,
    }

    # More (untimed) training before decoding, so that the model writes sentences of realistic length.
    extra = 0
    if a.decode > 0 or a.decode1 > 0:
        start = time.perf_counter()
        while time.perf_counter() - start < a.decode_train_seconds:
            train_step()
            extra += 1
    decoding = {'weights': f'after the warm-up and timed batches and {extra} more batches ({a.decode_train_seconds} s)',
                'extra_training_batches': extra}
    if a.decode > 0 or a.decode1 > 0:
        sample = stride_sample(sources, max(a.decode, a.decode1))
        decoding.update(time_decoding_interleaved(model, src_vocab, stride_sample(sample, a.decode),
                                                  stride_sample(sample, a.decode1), a.num_steps, a.decode_batch,
                                                  a.decode_rounds))
    result['decoding'] = decoding
    result['peak_rss_after_train_bytes'] = rss_after_train
    result['peak_rss_bytes'] = peak_rss_bytes()

    print(json.dumps(result), flush=True)
    line = (f"[bench] pytorch {a.model} {a.label}: {result['tokens_per_second']:.0f} tok/s, "
            f"{result['ms_per_step']:.2f} ms/step, {gflops:.2f} GFLOP/s (median step {percent:.0f}% of the "
            f"interleaved sgemm, median {gemm:.1f}; {gemm_after:.1f} after training), peak RSS "
            f"{result['peak_rss_bytes'] / 2**20:.0f} MiB; OpenBLAS core {blas['core']} ({blas['chosen_by']})")
    if 'batched' in decoding:
        line += f"; decoding {decoding['batched']['sentences_per_second']:.0f} sentences/s batched"
    if 'batch1' in decoding:
        line += f", {decoding['batch1']['sentences_per_second']:.0f} one at a time"
    print(line, file=sys.stderr)


if __name__ == '__main__':
    main()
