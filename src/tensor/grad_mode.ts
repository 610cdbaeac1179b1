// Whether ops record an autograd graph (off inside wt.noGrad). Lives below autograd so the Tensor
// can consult it (in-place checks) without importing the autograd layer.
let gradEnabled = true;

/** Whether ops record the autograd graph now (false inside noGrad). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Set grad mode; returns the previous value. */
export function setGradEnabled(v: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = v;
  return prev;
}
