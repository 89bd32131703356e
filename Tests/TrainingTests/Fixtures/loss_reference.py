"""Reference numbers for LossAndOptimizerTests (numpy, independent of ModelSmith). Run: python3 loss_reference.py"""
import numpy as np
np.set_printoptions(precision=10)
def lsm(z): z = z - z.max(1, keepdims=True); return z - np.log(np.exp(z).sum(1, keepdims=True))
s = np.array([[1., 2., 3.], [0.5, -1., 2.]]); t = np.array([[3., 2., 1.], [0., 0., 1.]]); y = np.array([0, 2])
ce = -lsm(s)[np.arange(2), y].mean(); print("ce", ce)
oh = np.eye(3)[y]; print("ce grad", (np.exp(lsm(s)) - oh) / 2)
T = 2.; a = 0.7
p = np.exp(lsm(t / T)); kl = (p * (np.log(p) - lsm(s / T))).sum() / 2   # KL, batchmean
print("kd", a * T * T * kl + (1 - a) * ce, "kd without labels", T * T * kl)
g = a * T * (np.exp(lsm(s / T)) - p) / 2 + (1 - a) * (np.exp(lsm(s)) - oh) / 2; print("kd grad", g)
print("mse", ((s - t) ** 2).mean(), 2 * (s - t) / 6)
def adam(p, gs, lr, b1=.9, b2=.999, eps=1e-8, wd=0, decoupled=False):   # torch.optim.Adam / AdamW
    m = v = 0
    for k, g in enumerate(gs, 1):
        if decoupled: p = p * (1 - lr * wd)
        else: g = g + wd * p
        m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g
        p = p - (lr / (1 - b1 ** k)) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** k) + eps)
    return p
print("adam", adam(1.0, [0.5, -0.2], 0.1, wd=0.1))
print("adamw", adam(1.0, [0.5, -0.2], 0.1, wd=0.1, decoupled=True))
