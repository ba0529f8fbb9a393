#!/usr/bin/python3
"""Reference throughput of the d2l.ai machine-translation models in PyTorch Python (Debian python3-torch,
LibTorch 1.13.1 underneath, the same library nmt links), for comparison with bench/train_bench.cpp.

The models, loss and training step follow d2l.ai (PyTorch edition) as printed in the book:
  - data: read_data_nmt / preprocess_nmt / tokenize_nmt / Vocab(min_freq, ['<pad>', '<bos>', '<eos>']) /
    build_array_nmt / load_array (DataLoader, shuffle=True) -- §10.5, on the whole file (num_examples=None);
  - Seq2SeqEncoder / Seq2SeqDecoder (§10.7; the decoder's context is the encoder's last top-layer output, as in
    the current edition), AdditiveAttention + Seq2SeqAttentionDecoder (§11.4), MultiHeadAttention /
    PositionalEncoding / TransformerEncoder / TransformerDecoder with post-norm AddNorm (§11.5-11.7);
  - MaskedSoftmaxCELoss, and one step of train_seq2seq: zero_grad, teacher forcing (<bos> + Y[:, :-1]),
    l.sum().backward(), grad_clipping(net, 1), optimizer.step() (Adam), metric.add(l.sum(), num_tokens).
  - decoding: predict_seq2seq's greedy loop, for a batch (sentences sorted by length, stopping once every
    sentence has emitted <eos>) and for one sentence at a time; both under torch.no_grad() (d2l's
    predict_seq2seq builds the autograd graph, which would only slow it down further).

Differences from nmt that change the work done (and so the FLOP count, not the tokens): d2l pads every batch
to num_steps (nmt trims batches to their longest sentence), runs the GRU encoder over the padding (nmt packs
the sequences), and recomputes W_k(keys) at every decoder step of the attention decoder (nmt once per batch).
Empty tokens (from repeated spaces) are dropped, as nmt does, so both build the same vocabularies.

Prints one JSON object (same fields as nmt_bench) on stdout and one human-readable line on stderr.
"""

import argparse
import collections
import ctypes
import json
import math
import os
import resource
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F


# ----------------------------------------------------------------------------------------------- data (§10.5)

def preprocess_nmt(text):
    def no_space(char, prev_char):
        return char in set(',.!?') and prev_char != ' '
    text = text.replace('\u202f', ' ').replace('\xa0', ' ').lower()
    out = [' ' + char if i > 0 and no_space(char, text[i - 1]) else char for i, char in enumerate(text)]
    return ''.join(out)


def tokenize_nmt(text, num_examples=None):
    source, target = [], []
    for i, line in enumerate(text.split('\n')):
        if num_examples and i >= num_examples:
            break
        parts = line.split('\t')
        if len(parts) >= 2:
            src = [t for t in parts[0].split(' ') if t]
            tgt = [t for t in parts[1].split(' ') if t]
            if src and tgt:
                source.append(src)
                target.append(tgt)
    return source, target


class Vocab:
    def __init__(self, tokens, min_freq=0, reserved_tokens=None):
        counter = collections.Counter(token for line in tokens for token in line)
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = ['<unk>'] + (reserved_tokens or [])
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self.__getitem__(token) for token in tokens]


def truncate_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines, vocab, num_steps):
    lines = [vocab[l] + [vocab['<eos>']] for l in lines]
    array = torch.tensor([truncate_pad(l, num_steps, vocab['<pad>']) for l in lines])
    valid_len = (array != vocab['<pad>']).type(torch.int32).sum(1)
    return array, valid_len


# ------------------------------------------------------------------------------------------- models (§10-11)

def sequence_mask(X, valid_len, value=0):
    maxlen = X.size(1)
    mask = torch.arange(maxlen, dtype=torch.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def masked_softmax(X, valid_lens):
    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return nn.functional.softmax(X.reshape(shape), dim=-1)


class Seq2SeqEncoder(nn.Module):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        X = self.embedding(X).permute(1, 0, 2)
        output, state = self.rnn(X)
        return output, state


class Seq2SeqDecoder(nn.Module):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, *args):
        return enc_outputs

    def forward(self, X, state):
        enc_output, hidden_state = state
        X = self.embedding(X).permute(1, 0, 2)
        context = enc_output[-1].repeat(X.shape[0], 1, 1)
        output, hidden_state = self.rnn(torch.cat((X, context), -1), hidden_state)
        return self.dense(output).permute(1, 0, 2), [enc_output, hidden_state]


class AdditiveAttention(nn.Module):
    def __init__(self, key_size, query_size, num_hiddens, dropout):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens):
        queries, keys = self.W_q(queries), self.W_k(keys)
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class Seq2SeqAttentionDecoder(nn.Module):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens, *args):
        outputs, hidden_state = enc_outputs
        return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        X = self.embedding(X).permute(1, 0, 2)
        outputs = []
        for x in X:
            query = torch.unsqueeze(hidden_state[-1], dim=1)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
            x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
        outputs = self.dense(torch.cat(outputs, dim=0))
        return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]


class DotProductAttention(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


def transpose_qkv(X, num_heads):
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1).permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


class MultiHeadAttention(nn.Module):
    def __init__(self, num_hiddens, num_heads, dropout, bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens):
        queries = transpose_qkv(self.W_q(queries), self.num_heads)
        keys = transpose_qkv(self.W_k(keys), self.num_heads)
        values = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        output = self.attention(queries, keys, values, valid_lens)
        return self.W_o(transpose_output(output, self.num_heads))


class PositionalEncoding(nn.Module):
    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.P = torch.zeros((1, max_len, num_hiddens))
        X = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1) / torch.pow(
            10000, torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
        self.P[:, :, 0::2] = torch.sin(X)
        self.P[:, :, 1::2] = torch.cos(X)

    def forward(self, X):
        X = X + self.P[:, :X.shape[1], :].to(X.device)
        return self.dropout(X)


class PositionWiseFFN(nn.Module):
    def __init__(self, num_inputs, ffn_num_hiddens, num_outputs):
        super().__init__()
        self.dense1 = nn.Linear(num_inputs, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class AddNorm(nn.Module):
    def __init__(self, normalized_shape, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(normalized_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class EncoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class TransformerEncoder(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers, dropout):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module("block" + str(i), EncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout))

    def forward(self, X, valid_lens, *args):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X


class DecoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i):
        super().__init__()
        self.i = i
        self.attention1 = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(num_hiddens, ffn_num_hiddens, num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens = state[0], state[1]
        if state[2][self.i] is None:
            key_values = X
        else:
            key_values = torch.cat((state[2][self.i], X), axis=1)
        state[2][self.i] = key_values
        if self.training:
            batch_size, num_steps, _ = X.shape
            dec_valid_lens = torch.arange(1, num_steps + 1, device=X.device).repeat(batch_size, 1)
        else:
            dec_valid_lens = None
        Y = self.addnorm1(X, self.attention1(X, key_values, key_values, dec_valid_lens))
        Z = self.addnorm2(Y, self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens))
        return self.addnorm3(Z, self.ffn(Z)), state


class TransformerDecoder(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_layers, dropout):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module("block" + str(i), DecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, i))
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens, *args):
        return [enc_outputs, enc_valid_lens, [None] * self.num_layers]

    def forward(self, X, state):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        for blk in self.blks:
            X, state = blk(X, state)
        return self.dense(X), state


class EncoderDecoder(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, dec_state)


def make_model(a, src_vocab_size, tgt_vocab_size):
    if a.model in ('seq2seq', 'seq2seq_attention'):
        encoder = Seq2SeqEncoder(src_vocab_size, a.embed, a.hiddens, a.layers, a.dropout)
        cls = Seq2SeqDecoder if a.model == 'seq2seq' else Seq2SeqAttentionDecoder
        decoder = cls(tgt_vocab_size, a.embed, a.hiddens, a.layers, a.dropout)
    elif a.model == 'transformer':
        encoder = TransformerEncoder(src_vocab_size, a.hiddens, a.ffn, a.heads, a.layers, a.dropout)
        decoder = TransformerDecoder(tgt_vocab_size, a.hiddens, a.ffn, a.heads, a.layers, a.dropout)
    else:
        raise ValueError(f'unknown model type {a.model!r}; valid: seq2seq, seq2seq_attention, transformer')
    net = EncoderDecoder(encoder, decoder)

    def xavier_init_weights(m):  # d2l train_seq2seq
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
        if type(m) == nn.GRU:
            for param in m._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(m._parameters[param])
    net.apply(xavier_init_weights)
    return net


# ----------------------------------------------------------------------------------------- training (§10.7)

class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    def forward(self, pred, label, valid_len):
        weights = sequence_mask(torch.ones_like(label), valid_len)
        self.reduction = 'none'
        unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
        return (unweighted_loss * weights).mean(dim=1)


def grad_clipping(net, theta):
    params = [p for p in net.parameters() if p.requires_grad]
    norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def step_flops(a, tgt_vocab, batch, steps):
    """Matmul FLOPs of one d2l training step (forward + backward = 3 x forward), counted as nmt_bench counts
    them (see step_flops in bench/train_bench.cpp) for the work d2l does: batches padded to num_steps
    (Ts = Tt = steps), the GRU encoder over every position, W_k(keys) recomputed at each decoder step."""
    E, H, L, Fw, V, B, T = a.embed, a.hiddens, a.layers, a.ffn, tgt_vocab, batch, steps
    f = 0.0
    if a.model in ('seq2seq', 'seq2seq_attention'):
        upper = (L - 1) * 3 * H * (2 * H)
        f += B * T * (3 * H * (E + H) + upper)
        f += B * T * (3 * H * (E + 2 * H) + upper)
        f += B * T * H * V
        if a.model == 'seq2seq_attention':
            f += B * T * T * H * H + B * T * H * H + B * T * T * 2 * H
    else:
        f += L * (B * T * (4 * H * H + 2 * H * Fw) + B * T * T * 2 * H)
        f += L * (B * T * (6 * H * H + 2 * H * Fw) + B * T * 2 * H * H + B * T * T * 2 * H + B * T * T * 2 * H)
        f += B * T * H * V
    return 3.0 * 2.0 * f


# ------------------------------------------------------------------------------------------ decoding (§10.7)

def greedy_decode(net, src_vocab, tgt_vocab, sources, num_steps, batch_size):
    """predict_seq2seq's greedy loop for `batch_size` sentences at a time.
    Returns (outputs without <eos>, decoder steps taken (the <eos> step included), sentences that emitted <eos>)."""
    net.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    outputs, total_steps, total_eos = [None] * len(sources), 0, 0
    eos, bos, pad = tgt_vocab['<eos>'], tgt_vocab['<bos>'], src_vocab['<pad>']
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            rows = [src_vocab[sources[i]] + [src_vocab['<eos>']] for i in idx]
            enc_valid_len = torch.tensor([min(len(r), num_steps) for r in rows])
            enc_X = torch.tensor([truncate_pad(r, num_steps, pad) for r in rows], dtype=torch.long)
            enc_outputs = net.encoder(enc_X, enc_valid_len)
            dec_state = net.decoder.init_state(enc_outputs, enc_valid_len)
            dec_X = torch.full((len(idx), 1), bos, dtype=torch.long)
            seqs = [[] for _ in idx]
            done = [False] * len(idx)
            for _ in range(num_steps):
                Y, dec_state = net.decoder(dec_X, dec_state)
                dec_X = Y.argmax(dim=2)
                preds = dec_X.squeeze(1).tolist()
                for r, p in enumerate(preds):
                    if not done[r]:
                        total_steps += 1
                        if p == eos:
                            done[r] = True
                        else:
                            seqs[r].append(p)
                if all(done):
                    break
            for r, i in enumerate(idx):
                outputs[i] = seqs[r]
            total_eos += sum(done)
    return outputs, total_steps, total_eos


def time_decoding_interleaved(net, src_vocab, tgt_vocab, batched, single, num_steps, batch_size, rounds):
    """Batched against one-at-a-time decoding in `rounds` interleaved rounds, as nmt_bench does: each round
    decodes the next slice of both sets (batched slices end on whole batches where the set allows)."""
    totals = {}
    per_round = []
    batches = (len(batched) + batch_size - 1) // batch_size
    rounds = max(1, rounds)

    def run(mode, items, bs):
        if not items:
            return 0.0
        t = totals.setdefault(mode, {'sentences': 0, 'batch_size': bs, 'seconds': 0.0, 'steps': 0, 'eos': 0,
                                     'round_sentences_per_second': []})
        t0 = time.perf_counter()
        outputs, steps, eos = greedy_decode(net, src_vocab, tgt_vocab, items, num_steps, bs)
        dt = time.perf_counter() - t0
        t['sentences'] += len(outputs)
        t['seconds'] += dt
        t['steps'] += steps
        t['eos'] += eos
        t['round_sentences_per_second'].append(len(outputs) / dt)
        return len(outputs) / dt

    def batched_end(r):  # end of round r - 1's slice
        return len(batched) if r == rounds else min(len(batched), (r * batches // rounds) * batch_size)

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
                     'eos_fraction': t['eos'] / n, 'round_sentences_per_second': t['round_sentences_per_second']}
    if 'batched' in out and 'batch1' in out:
        out['speedup'] = out['batched']['sentences_per_second'] / out['batch1']['sentences_per_second']
        out['speedup_per_round'] = per_round
    return out


def stride_sample(items, n):
    n = min(n, len(items))
    return [items[k * len(items) // n] for k in range(n)]


# --------------------------------------------------------------------------------------------------- runtime

def blas_info():
    core, threads, path = '', -1, ''
    with open('/proc/self/maps') as maps:
        for line in maps:
            name = line.split()[-1] if len(line.split()) >= 6 else ''
            base = os.path.basename(name)
            if base.startswith('libopenblas') or base.startswith('libblas'):
                path = name
                break
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
    """The GEMM ceiling, probed between timed steps as nmt_bench does: sgemm of two n x n matrices into a
    preallocated output; sample(reps) is the best rate (GFLOP/s) of reps products."""

    def __init__(self, n):
        self.n = n
        self.a, self.b, self.c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        torch.mm(self.a, self.b, out=self.c)

    def sample(self, reps):
        best = 1e30
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(self.a, self.b, out=self.c)
            best = min(best, time.perf_counter() - t0)
        return 2.0 * self.n ** 3 / best / 1e9


def median(v):
    v = sorted(v)
    if not v:
        return 0.0
    m = len(v) // 2
    return v[m] if len(v) % 2 else 0.5 * (v[m - 1] + v[m])


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='seq2seq', choices=['seq2seq', 'seq2seq_attention', 'transformer'])
    p.add_argument('--label', default='custom')
    p.add_argument('--embed', type=int, default=32)
    p.add_argument('--hiddens', type=int, default=32)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--ffn', type=int, default=64)
    p.add_argument('--dropout', type=float, default=0.1)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--lr', type=float, default=0.005)
    p.add_argument('--num-steps', type=int, default=10)
    p.add_argument('--min-freq', type=int, default=2)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--data', default='data/fra-eng/fra.txt')
    p.add_argument('--num-examples', type=int, default=0, help='first N lines only (0 = all)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--batches', type=int, default=30)
    p.add_argument('--decode', type=int, default=2000)
    p.add_argument('--decode-batch', type=int, default=128)
    p.add_argument('--decode1', type=int, default=500)
    p.add_argument('--decode-rounds', type=int, default=8,
                   help='rounds that interleave batched and one-at-a-time decoding')
    p.add_argument('--decode-train-seconds', type=float, default=0.0,
                   help='untimed training after the timed batches, before decoding')
    p.add_argument('--gemm-size', type=int, default=1024)
    a = p.parse_args()
    if a.batches < 1:
        p.error('--batches must be positive')

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    blas = blas_info()

    t0 = time.perf_counter()
    with open(a.data, 'r', encoding='utf-8') as f:
        raw = f.read()
    source, target = tokenize_nmt(preprocess_nmt(raw), a.num_examples or None)
    del raw
    src_vocab = Vocab(source, min_freq=a.min_freq, reserved_tokens=['<pad>', '<bos>', '<eos>'])
    tgt_vocab = Vocab(target, min_freq=a.min_freq, reserved_tokens=['<pad>', '<bos>', '<eos>'])
    src_array, src_valid_len = build_array_nmt(source, src_vocab, a.num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, a.num_steps)
    dataset = torch.utils.data.TensorDataset(src_array, src_valid_len, tgt_array, tgt_valid_len)
    data_iter = torch.utils.data.DataLoader(dataset, a.batch, shuffle=True)  # d2l load_array
    load_seconds = time.perf_counter() - t0

    net = make_model(a, len(src_vocab), len(tgt_vocab))
    optimizer = torch.optim.Adam(net.parameters(), lr=a.lr)
    loss = MaskedSoftmaxCELoss()
    net.train()
    bos_id = tgt_vocab['<bos>']

    it = iter(data_iter)

    def train_step():
        """One d2l train_seq2seq step on the next batch; returns (batch, summed loss, tokens)."""
        nonlocal it
        try:
            batch = next(it)
        except StopIteration:
            it = iter(data_iter)
            batch = next(it)
        optimizer.zero_grad()
        X, X_valid_len, Y, Y_valid_len = batch
        bos = torch.tensor([bos_id] * Y.shape[0]).reshape(-1, 1)
        dec_input = torch.cat([bos, Y[:, :-1]], 1)  # teacher forcing
        Y_hat, _ = net(X, dec_input, X_valid_len)
        l = loss(Y_hat, Y, Y_valid_len)
        l.sum().backward()
        grad_clipping(net, 1)
        num_tokens = Y_valid_len.sum()
        optimizer.step()
        with torch.no_grad():  # d2l metric.add(l.sum(), num_tokens)
            return batch, float(l.sum()), float(num_tokens)

    timed_seconds = timed_tokens = timed_flops = 0.0
    min_step, loss_sum = 1e30, 0.0
    probe = GemmProbe(a.gemm_size) if a.gemm_size > 0 else None
    probe_rates, step_percents = [], []  # per timed step: sgemm GFLOP/s right before it, step rate in % of it
    for i in range(a.warmup + a.batches):
        probe_rate = probe.sample(2) if probe and i >= a.warmup else 0.0
        t = time.perf_counter()
        batch, batch_loss, tokens = train_step()
        dt = time.perf_counter() - t
        if i < a.warmup:
            continue
        X = batch[0]
        loss_sum += batch_loss
        timed_seconds += dt
        min_step = min(min_step, dt)
        timed_tokens += tokens
        flops = step_flops(a, len(tgt_vocab), X.shape[0], X.shape[1])
        timed_flops += flops
        if probe:
            probe_rates.append(probe_rate)
            step_percents.append(100.0 * flops / dt / 1e9 / probe_rate)
    rss_after_train = peak_rss_bytes()
    gemm = median(probe_rates)
    gemm_after = probe.sample(10) if probe else 0.0
    gflops = timed_flops / timed_seconds / 1e9
    percent = median(step_percents)

    result = {
        'impl': 'd2l_python', 'model': a.model, 'size': a.label, 'embed_size': a.embed, 'num_hiddens': a.hiddens,
        'num_layers': a.layers, 'num_heads': a.heads, 'ffn_num_hiddens': a.ffn, 'dropout': a.dropout,
        'batch_size': a.batch, 'lr': a.lr, 'num_steps': a.num_steps, 'min_freq': a.min_freq, 'pairs': len(source),
        'src_vocab': len(src_vocab), 'tgt_vocab': len(tgt_vocab),
        'parameters': sum(p.numel() for p in net.parameters()), 'load_seconds': load_seconds,
        'warmup_batches': a.warmup, 'timed_batches': a.batches, 'timed_seconds': timed_seconds,
        'timed_tokens': timed_tokens, 'tokens_per_second': timed_tokens / timed_seconds,
        'ms_per_step': 1e3 * timed_seconds / a.batches, 'ms_per_step_min': 1e3 * min_step,
        'gflop_per_step': timed_flops / a.batches / 1e9, 'gflops': gflops,
        'flops_counted': 'matmuls only: 3 x 2 x (weights x positions + attention scores/values); '
                         'batches padded to num_steps, GRU encoder over padding, W_k per decoder step',
        'gemm_size': a.gemm_size, 'gemm_ceiling_gflops': gemm, 'gemm_probe_gflops': probe_rates,
        'gemm_ceiling_after_gflops': gemm_after, 'percent_of_ceiling': percent,
        'percent_of_ceiling_per_step': step_percents,
        'percent_of_median_ceiling': 100.0 * gflops / gemm if gemm > 0 else 0.0,
        'percent_of_ceiling_after': 100.0 * gflops / gemm_after if gemm_after > 0 else 0.0,
        'ceiling_method': 'sgemm of two gemm_size^2 matrices, best of 2, right before every timed step; '
                          'percent_of_ceiling = median over timed steps of step GFLOP/s / that probe',
        # Nats per target token over the timed batches: l is d2l's masked loss averaged over num_steps per sentence,
        # so num_steps * sum(l) is the summed cross-entropy (d2l's printed loss, sum(l) / tokens, is num_steps times smaller).
        'train_loss': loss_sum * a.num_steps / max(1.0, timed_tokens),
        'torch_threads': torch.get_num_threads(), 'torch_version': torch.__version__,
        'python': sys.version.split()[0], 'blas': blas,
    }

    # More (untimed) training before decoding, as nmt_bench does (--decode-train-seconds).
    extra = 0
    if a.decode > 0 or a.decode1 > 0:
        start = time.perf_counter()
        while time.perf_counter() - start < a.decode_train_seconds:
            train_step()
            extra += 1
    decoding = {'weights': f'after the warm-up and timed batches and {extra} more batches ({a.decode_train_seconds} s)',
                'extra_training_batches': extra}
    if a.decode > 0 or a.decode1 > 0:
        sample = stride_sample(source, max(a.decode, a.decode1))
        decoding.update(time_decoding_interleaved(net, src_vocab, tgt_vocab, stride_sample(sample, a.decode),
                                                  stride_sample(sample, a.decode1), a.num_steps, a.decode_batch,
                                                  a.decode_rounds))
    result['decoding'] = decoding
    result['peak_rss_after_train_bytes'] = rss_after_train
    result['peak_rss_bytes'] = peak_rss_bytes()

    print(json.dumps(result), flush=True)
    line = (f"[bench] d2l_python {a.model} {a.label}: {result['tokens_per_second']:.0f} tok/s, "
            f"{result['ms_per_step']:.2f} ms/step, {gflops:.2f} GFLOP/s (median step {percent:.0f}% of the "
            f"interleaved sgemm, median {gemm:.1f}; {gemm_after:.1f} after training), peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MiB; OpenBLAS core {blas['core']} "
            f"({blas['chosen_by']})")
    if 'batched' in decoding:
        line += f"; decoding {decoding['batched']['sentences_per_second']:.0f} sentences/s batched"
    if 'batch1' in decoding:
        line += f", {decoding['batch1']['sentences_per_second']:.0f} one at a time"
    print(line, file=sys.stderr)


if __name__ == '__main__':
    main()
