"""Build the KHR_texture_transform sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/texture-features/make_texture_transform.py -- [--out samples/texture-features/texture-transform.glb]

The stage of scene_common.py; the cube's and the floor's base colour are the checker image through a Mapping node
(location, rotation and scale differ on each), which Blender's exporter writes as KHR_texture_transform (offset,
rotation, scale) on the texture, and its importer reads back as the same Mapping node.
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_common as sc  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "texture-transform.glb")


def mapped(name, image, location, rotation_deg, scale, roughness):
    mat = sc.material(name, roughness=roughness)
    nt = mat.node_tree
    tex = sc.image_node(mat, image)
    coord = nt.nodes.new("ShaderNodeTexCoord")
    mapping = nt.nodes.new("ShaderNodeMapping")
    mapping.vector_type = "POINT"
    mapping.inputs["Location"].default_value = (*location, 0.0)
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(rotation_deg))
    mapping.inputs["Scale"].default_value = (*scale, 1.0)
    nt.links.new(coord.outputs["UV"], mapping.inputs["Vector"])
    nt.links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
    return mat


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    out = os.path.abspath(p.parse_args(argv).out)
    sc.clear_scene()
    img = sc.checker_image()
    sc.cube(mapped("CubeTransformed", img, (0.2, 0.1), 30.0, (2.0, 1.5), 0.5))
    sc.stage(mapped("FloorTransformed", img, (0.1, -0.3), -20.0, (3.0, 3.0), 1.0))
    sc.export(out, "make_texture_transform")


if __name__ == "__main__":
    main()
