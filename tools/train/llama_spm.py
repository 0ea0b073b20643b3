"""The llama.cpp "llama" (SentencePiece-BPE) tokenizer, re-implemented from its
algorithm so the training scripts can prove that what the C++ runner will compute
from the GGUF vocabulary equals what the model was trained on.

encode(text):
  1. if add_space_prefix: text = " " + text
  2. every " " becomes U+2581 "▁"
  3. split into UTF-8 characters (symbols)
  4. repeatedly merge the adjacent pair whose concatenation is a vocabulary token
     with the highest score (ties: leftmost pair first) until no pair is a token
  5. each final symbol that is a token is emitted; one that is not (a character
     absent from the vocabulary) is emitted as its UTF-8 bytes, token "<0xXX>" each
     (byte fallback); the unknown token is used only if a byte token is missing.
Note: llama.cpp re-splits a symbol that is not a token through the merge history;
with step 4 only ever producing vocabulary tokens that case is a single character.
decode(ids): control tokens -> "", "<0xXX>" -> that byte, others: "▁" -> " ".
"""

import heapq

SPACE = "\u2581"


class LlamaSPM:
    def __init__(self, tokens, scores, types, unk_id, add_space_prefix):
        self.tokens = tokens
        self.scores = scores
        self.types = types
        self.unk = unk_id
        self.add_space_prefix = add_space_prefix
        self.index = {}
        for i, t in enumerate(tokens):
            if types[i] in (1, 4, 2):  # normal, user-defined, unknown match text
                self.index.setdefault(t, i)
        self.byte_id = {}
        for i, t in enumerate(tokens):
            if types[i] == 6:
                self.byte_id[int(t[3:5], 16)] = i

    def encode(self, text):
        if self.add_space_prefix:
            text = " " + text
        text = text.replace(" ", SPACE)
        sym = list(text)
        n = len(sym)
        if n == 0:
            return []
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        alive = [True] * n
        heap = []

        def push(l):
            r = nxt[l]
            if l < 0 or r < 0:
                return
            s = sym[l] + sym[r]
            i = self.index.get(s)
            if i is not None:
                # max score first, then leftmost; record lengths to detect stale entries
                heapq.heappush(heap, (-self.scores[i], l, r, len(sym[l]), len(sym[r])))

        for i in range(n - 1):
            push(i)
        while heap:
            _, l, r, ll, rl = heapq.heappop(heap)
            if not (alive[l] and alive[r]) or nxt[l] != r or len(sym[l]) != ll or len(sym[r]) != rl:
                continue
            sym[l] += sym[r]
            alive[r] = False
            nxt[l] = nxt[r]
            if nxt[r] >= 0:
                prev[nxt[r]] = l
            push(prev[l])
            push(l)
        out = []
        i = 0
        while i >= 0:
            s = sym[i]
            tid = self.index.get(s)
            if tid is not None:
                out.append(tid)
            else:
                for b in s.encode("utf-8"):
                    out.append(self.byte_id.get(b, self.unk))
            i = nxt[i]
        return out

    def decode(self, ids):
        buf = bytearray()
        for i in ids:
            t, ty = self.tokens[i], self.types[i]
            if ty == 3:
                continue
            if ty == 6:
                buf.append(int(t[3:5], 16))
            else:
                buf += t.replace(SPACE, " ").encode("utf-8")
        return buf.decode("utf-8", errors="replace")
