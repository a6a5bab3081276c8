// ?emulate=1: a Meta Quest 3 emulated by iwer (vendor/iwer, from npm; nothing fetched from elsewhere), so the VR and
// AR modes can be tried, and tested, in a desktop browser. AR hit-tests need a world to hit: RoomEnvironment stands
// in for iwer's synthetic environment module with one floor (y = 0) and one wall (z = -2, facing +z), in the
// emulator's global space, where the headset starts at (0, 1.6, 0) looking along -z.
import { XRDevice, metaQuest3 } from "./vendor/iwer/iwer.module.js";

const PLANES = [
  { point: [0, 0, 0], normal: [0, 1, 0] }, // floor
  { point: [0, 0, -2], normal: [0, 0, 1] }, // wall
];

// A pose (column-major 4x4) at p whose Y axis is the surface normal n, as WebXR hit-test results are.
function poseAt(p, n) {
  const x = Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  const d = x[0] * n[0] + x[1] * n[1] + x[2] * n[2];
  const xs = [x[0] - d * n[0], x[1] - d * n[1], x[2] - d * n[2]];
  const l = Math.hypot(...xs);
  const X = xs.map((v) => v / l);
  const Z = [X[1] * n[2] - X[2] * n[1], X[2] * n[0] - X[0] * n[2], X[0] * n[1] - X[1] * n[0]]; // X × Y
  return new Float32Array([...X, 0, ...n, 0, ...Z, 0, ...p, 1]);
}

class RoomEnvironment {
  constructor() {
    this.version = "ganstudio-room/1";
    this.environmentCanvas = document.createElement("canvas");
    this.environmentCanvas.width = this.environmentCanvas.height = 1;
    this.trackedPlanes = new Set();
    this.trackedMeshes = new Set();
    this.planesVisible = this.boundingBoxesVisible = this.meshesVisible = false;
  }
  render() {}
  loadEnvironment() {}
  loadDefaultEnvironment() {}
  deleteAll() {}
  computeDepthBuffer() { return null; }
  // rayMatrix: the ray's pose; it starts at the translation and points along -Z. Hits sorted nearest first.
  computeHitTestResults(m) {
    const o = [m[12], m[13], m[14]], dir = [-m[8], -m[9], -m[10]];
    const hits = [];
    for (const { point, normal } of PLANES) {
      const denom = dir[0] * normal[0] + dir[1] * normal[1] + dir[2] * normal[2];
      if (Math.abs(denom) < 1e-6) continue;
      const t = ((point[0] - o[0]) * normal[0] + (point[1] - o[1]) * normal[1] + (point[2] - o[2]) * normal[2]) / denom;
      if (t > 0) hits.push({ t, pose: poseAt([o[0] + t * dir[0], o[1] + t * dir[1], o[2] + t * dir[2]], normal) });
    }
    return hits.sort((a, b) => a.t - b.t).map((h) => h.pose);
  }
}

export function install() {
  const device = new XRDevice(metaQuest3);
  device.installSEM(RoomEnvironment);
  device.installRuntime({ forceInstall: true }); // over the browser's own navigator.xr, if it has one
  return device;
}
