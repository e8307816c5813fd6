"""Build the vertex-colour (COLOR_0) sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/texture-features/make_vertex_colors.py -- [--out samples/texture-features/vertex-colors.glb]

The stage of scene_common.py; the cube (each face cut 4 x 4) carries a colour attribute per vertex, red to blue
along x and green with height, exported as COLOR_0; its base colour is 0.9 grey, which glTF multiplies by the
vertex colour (Blender's importer does so with a Color Attribute node). The floor carries no colours.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_common as sc  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vertex-colors.glb")


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    out = os.path.abspath(p.parse_args(argv).out)
    sc.clear_scene()
    mat = sc.material("CubeColoured", base=(0.9, 0.9, 0.9), roughness=0.6)
    ob = sc.cube(mat, subdivisions=3)
    me = ob.data
    colors = me.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
    for vertex, value in zip(me.vertices, colors.data):
        x, y, z = vertex.co  # Blender space: z up
        t = min(max(x + 0.5, 0.0), 1.0)
        h = min(max(z, 0.0), 1.0)
        value.color = (0.9 * (1.0 - t) + 0.05, 0.1 + 0.8 * h, 0.9 * t + 0.05, 1.0)
    me.color_attributes.active_color = colors
    sc.stage()
    sc.export(out, "make_vertex_colors", colors=True)


if __name__ == "__main__":
    main()
