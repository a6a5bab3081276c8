/* The page's state, shared by the panels: the open run and checkpoint and what each panel holds. */

export const S = {
  runs: [], run: null, checkpoint: "latest", info: null, dirs: [],
  explore: null, edits: {}, seq: 0, shownSeq: -1, dirsRef: null, showAllDirs: false,
  sketch: null,
  parents: [], keys: [], favs: [], viewing: null,
  exhibit: null, jobsTimer: null, runTimer: null,
};
