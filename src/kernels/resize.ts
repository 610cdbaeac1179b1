// Batched uint8 image -> f32 resize, optionally with per-image random crop + horizontal flip.
// Input  src: n images of inH x inW bytes, packed 4 bytes per u32 little-endian as one byte stream
//             (byte k of the batch is (src[k >> 2] >> 8 * (k & 3)) & 0xff), bound as array<u32>.
// Input  aug (augment only): one u32 per image: bits 0..7 dx, 8..15 dy (crop offsets in 0..2*pad),
//             bit 16 flip.
// Output y:   [n, outH, outW] f32 in [0, 1] (value / 255, like torchvision ToTensor).
// Resize: bilinear, align_corners=False (PyTorch F.interpolate / torchvision Resize with
// antialias off): src = max((dst + 0.5) * in / out - 0.5, 0), i0 = min(floor(src), in - 1),
// i1 = min(i0 + 1, in - 1), weight of i1 = src - i0.
// Augment (applied to the inH x inW image before the resize, like torchvision
// RandomCrop(size, padding=pad) then RandomHorizontalFlip): aug(y, x) = img(y + dy - pad, x' + dx - pad)
// with x' = inW - 1 - x when flipped, else x; 0 outside the image (zero padding).
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

export interface ResizeParams {
  /** Images in the batch. */
  n: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** Crop padding; when set, an aug buffer (one u32 per image) is bound after src. */
  pad?: number;
}

const WG = 256;

/** in / out rounded to f32, as the WGSL sees it (the CPU twin uses the same value). */
const scale = (i: number, o: number) => Math.fround(i / o);

export const resizeKernel = defineKernel<ResizeParams>({
  name: 'resize',
  spec: (p) => (p.pad !== undefined ? 'aug' : ''),
  // src [n * inH * inW bytes] as u32, aug [n] (augment only), y [n, outH, outW]
  storage: (p) => [read('src', 'u32'), ...(p.pad !== undefined ? [read('aug', 'u32')] : []), rw('y')],
  uniforms: (p) => [
    u32('total', p.n * p.outH * p.outW), u32('inH', p.inH), u32('inW', p.inW), u32('outH', p.outH), u32('outW', p.outW),
    f32('scaleY', scale(p.inH, p.outH)), f32('scaleX', scale(p.inW, p.outW)), u32('pad', p.pad ?? 0),
  ],
  dispatch: (p) => Math.ceil((p.n * p.outH * p.outW) / WG),
  body: (p) => {
    const aug = p.pad !== undefined;
    return `
// Pixel (py, px) of image img after augmentation (a = its aug word), as 0..255.
fn pixel(img: u32, py: u32, px: u32, a: u32) -> f32 {
  var sy = i32(py);
  var sx = i32(px);
  ${aug ? `if (((a >> 16u) & 1u) == 1u) { sx = i32(u.inW) - 1 - sx; }
  sx = sx + i32(a & 0xffu) - i32(u.pad);
  sy = sy + i32((a >> 8u) & 0xffu) - i32(u.pad);
  if (sx < 0 || sy < 0 || sx >= i32(u.inW) || sy >= i32(u.inH)) { return 0.0; }` : ''}
  let k = (img * u.inH + u32(sy)) * u.inW + u32(sx);
  return f32((src[k >> 2u] >> ((k & 3u) * 8u)) & 0xffu);
}

// Source index and weight of the second tap along one axis.
fn coord(d: u32, scale: f32, n: u32) -> vec3<f32> {
  let s = max((f32(d) + 0.5) * scale - 0.5, 0.0);
  let i0 = min(u32(floor(s)), n - 1u);
  let i1 = min(i0 + 1u, n - 1u);
  return vec3<f32>(f32(i0), f32(i1), s - f32(i0));
}

@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.total) { return; }
  let ox = gid % u.outW;
  let t = gid / u.outW;
  let oy = t % u.outH;
  let img = t / u.outH;
  let a = ${aug ? 'aug[img]' : '0u'};
  let cy = coord(oy, u.scaleY, u.inH);
  let cx = coord(ox, u.scaleX, u.inW);
  let y0 = u32(cy.x); let y1 = u32(cy.y); let ly = cy.z;
  let x0 = u32(cx.x); let x1 = u32(cx.y); let lx = cx.z;
  let top = (1.0 - lx) * pixel(img, y0, x0, a) + lx * pixel(img, y0, x1, a);
  let bot = (1.0 - lx) * pixel(img, y1, x0, a) + lx * pixel(img, y1, x1, a);
  y[gid] = ((1.0 - ly) * top + ly * bot) / 255.0;
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const aug = p.pad !== undefined;
    const [src, augBuf, y] = aug ? bufs : [bufs[0], null, bufs[1]];
    const pad = p.pad ?? 0;
    const { inH, inW, outH, outW } = p;
    const pixel = (img: number, py: number, px: number, a: number): number => {
      let sy = py;
      let sx = px;
      if (aug) {
        if ((a >>> 16) & 1) sx = inW - 1 - sx;
        sx += (a & 0xff) - pad;
        sy += ((a >>> 8) & 0xff) - pad;
        if (sx < 0 || sy < 0 || sx >= inW || sy >= inH) return 0;
      }
      const k = (img * inH + sy) * inW + sx;
      return (src[k >>> 2] >>> ((k & 3) * 8)) & 0xff;
    };
    const coord = (d: number, sc: number, n: number): [number, number, number] => {
      const s = Math.max((d + 0.5) * sc - 0.5, 0);
      const i0 = Math.min(Math.floor(s), n - 1);
      return [i0, Math.min(i0 + 1, n - 1), s - i0];
    };
    const sy = scale(inH, outH);
    const sx = scale(inW, outW);
    let o = 0;
    for (let img = 0; img < p.n; img++) {
      const a = augBuf ? augBuf[img] >>> 0 : 0;
      for (let oy = 0; oy < outH; oy++) {
        const [y0, y1, ly] = coord(oy, sy, inH);
        for (let ox = 0; ox < outW; ox++) {
          const [x0, x1, lx] = coord(ox, sx, inW);
          const top = (1 - lx) * pixel(img, y0, x0, a) + lx * pixel(img, y0, x1, a);
          const bot = (1 - lx) * pixel(img, y1, x0, a) + lx * pixel(img, y1, x1, a);
          y[o++] = ((1 - ly) * top + ly * bot) / 255;
        }
      }
    }
  },
});

/** Pack the per-image augmentation word (see the layout above). */
export function packAug(dx: number, dy: number, flip: boolean): number {
  return (dx & 0xff) | ((dy & 0xff) << 8) | (flip ? 1 << 16 : 0);
}
