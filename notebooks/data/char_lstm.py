"""Make lstm_lab/data/char_lstm.npz, the trained character model the unit explorer shows by default.

    OPENBLAS_NUM_THREADS=1 python notebooks/data/char_lstm.py      # a few seconds

It trains exactly as notebook 11 trains its first seed: an LSTM with H = 24 on
``generate.make_text(40000, seed=0)``, windows of T = 32, batches of 32, Adam with lr = 0.02,
clipping at 5, 250 steps, every seed 0; then saves it with ``generate.save_char_model`` (float32
weights, the vocabulary and the seed its cell started from). ``generate.load_char_model()``
reads it back, with the same network at initialisation beside it.
"""

import lstm_lab as ll
from lstm_lab import generate, train


def main():
    text = generate.make_text(40000, seed=0)
    task = generate.CharTask(text, T=32)
    V, H, seed = len(task.vocab), 24, 0
    model = train.SequenceModel(ll.LSTMCell(V, H, seed=seed), V, many_to_one=False, seed=seed)
    hist = train.fit(model, task, steps=250, batch_size=32, lr=2e-2, clip=5.0, eval_every=50,
                     seed=seed, description="char LSTM")
    generate.save_char_model(model, task.vocab, generate.PRETRAINED, seed=seed)
    print(f"held-out cross-entropy {hist.final:.3f} nats per character; "
          f"wrote lstm_lab/data/{generate.PRETRAINED.name}")


if __name__ == "__main__":
    main()
