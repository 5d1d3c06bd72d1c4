/**
 * TensorBoard's scalar smoothing: an exponential moving average debiased like Adam's moments, so the
 * first points are not pulled toward 0. `weight` in [0, 1); non-finite values pass through unsmoothed
 * and do not enter the average.
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  let last = 0;
  let count = 0;
  return values.map((value) => {
    if (value === null || !Number.isFinite(value)) return value;
    last = last * weight + (1 - weight) * value;
    count += 1;
    const debias = weight === 1 ? 1 : 1 - weight ** count;
    return last / debias;
  });
}
