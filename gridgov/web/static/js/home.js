// The home page is plain links; this only wires the shared top bar (sign out, banner).

import "./core.js";
