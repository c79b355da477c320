"""Reference numbers for tests/optim.rs: Adadelta as Keras 2.0.0 wrote it.

The update below is keras/optimizers.py `Adadelta.get_updates` of Keras 2.0.0
(2017), evaluated in float64 with plain Python, on the loss
    L(w) = sum_i k_i * w_i**2 + w_i,   so   dL/dw_i = 2 * k_i * w_i + 1,
from w = [1.0, -2.0, 0.5], k = [1.0, 2.0, 3.0], lr = 1.0, rho = 0.95,
epsilon = 1e-8. Run: python3 tests/reference/adadelta.py
"""
import math

lr, rho, eps = 1.0, 0.95, 1e-8
k = [1.0, 2.0, 3.0]
w = [1.0, -2.0, 0.5]
a = [0.0] * 3  # accumulators
d = [0.0] * 3  # delta_accumulators
for step in range(1, 6):
    for i in range(3):
        g = 2 * k[i] * w[i] + 1
        a[i] = rho * a[i] + (1.0 - rho) * g * g
        update = g * math.sqrt(d[i] + eps) / math.sqrt(a[i] + eps)
        w[i] = w[i] - lr * update
        d[i] = rho * d[i] + (1 - rho) * update * update
    print(f"step {step}: w = [{', '.join(f'{x:.10e}' for x in w)}]")
