"""Reference renderer: import a glTF 2.0 scene into an empty Blender scene and render one
frame with Cycles on the CPU, with settings chosen so the result is comparable with
RenderFarm's path tracer (plain sRGB clamp of linear radiance, box pixel filter, no
denoising / adaptive sampling / clamping, black world, 8 bounces).

Usage:

    blender -b --factory-startup --python-exit-code 1 -P samples/tools/cycles_render.py -- \
        --scene samples/cornell-box/cornell-box.glb --frame 1 --size 512x512 --spp 64 \
        --out /tmp/cycles-0001.png [--seed 0] [--threads 0] [--pfm /tmp/cycles-0001.pfm]

With --pfm the linear render (before the view transform) is also written as a little-endian
RGB float32 Portable Float Map, which the noise benchmark compares with a reference.

Frame convention (same as RenderFarm): frame N is glTF time (N - 1) / 24 s.
Blender's glTF importer (io_scene_gltf2/blender/imp/gltf2_blender_animation_node.py)
places a key at glTF time t on Blender frame t * scene.render.fps (no +1 offset, and
fps_base is ignored), so frame N is Blender frame (N - 1) / 24 * fps.

The last line printed is machine-readable:

    cycles: frame N WxH spp S wall X.XXXs cpu Y.YYYs

where the wall time is measured around bpy.ops.render.render() only, and the CPU time is the process's (all
threads) over the same call.
"""

import argparse
import math
import os
import sys
import time

import bpy
import numpy

# Blender 3.4's glTF importer (blender/imp/gltf2_blender_mesh.py) uses `np.bool`, an alias
# removed in numpy 1.24 (Debian ships 1.24); without this shim every mesh import fails with
# "module 'numpy' has no attribute 'bool'".
if "bool" not in numpy.__dict__:
    numpy.bool = bool

RENDERFARM_FPS = 24.0


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(prog="cycles_render.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", required=True, help=".glb or .gltf file")
    p.add_argument("--frame", type=int, default=1, help="1-based frame, time (N-1)/24 s (default 1)")
    p.add_argument("--size", default="512x512", help="WxH in pixels (default 512x512)")
    p.add_argument("--spp", type=int, default=64, help="samples per pixel (default 64)")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--seed", type=int, default=0, help="Cycles sampling seed (default 0)")
    p.add_argument("--threads", type=int, default=0, help="render threads (default 0 = all cores)")
    p.add_argument("--pfm", default=None, help="also write the linear image as PFM (float32 RGB)")
    p.add_argument("--verbose", action="store_true", help="print imported camera/material/animation details")
    p.add_argument("--environment", help="equirectangular .hdr/.exr lighting the world (default: black world)")
    p.add_argument("--environment-strength", type=float, default=1.0, help="its strength (default 1)")
    p.add_argument("--environment-rotation", type=float, default=0.0,
                   help="degrees about Z, as a Mapping node's rotation (default 0)")
    a = p.parse_args(argv)
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        p.error(f"--size must be WxH, got {a.size!r}")
    if w <= 0 or h <= 0 or a.spp <= 0 or a.frame < 1:
        p.error("size, spp must be positive and frame >= 1")
    a.width, a.height = w, h
    return a


def empty_scene():
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.cameras, bpy.data.lights,
                 bpy.data.images, bpy.data.actions):
        for block in list(coll):
            coll.remove(block)


def configure(scene, a):
    scene.render.engine = "CYCLES"
    cy = scene.cycles
    cy.device = "CPU"
    cy.feature_set = "SUPPORTED"
    cy.samples = a.spp
    cy.use_adaptive_sampling = False
    cy.use_denoising = False
    cy.use_preview_denoising = False
    cy.seed = a.seed
    cy.use_animated_seed = False
    cy.sample_clamp_direct = 0.0
    cy.sample_clamp_indirect = 0.0
    cy.max_bounces = 8
    cy.diffuse_bounces = 8
    cy.glossy_bounces = 8
    cy.transmission_bounces = 8
    cy.transparent_max_bounces = 8
    cy.volume_bounces = 0
    cy.caustics_reflective = True
    cy.caustics_refractive = True
    cy.blur_glossy = 0.0                    # "filter glossy" off
    cy.use_auto_tile = False
    # pixel filter: box, 1 pixel wide (each sample contributes to the pixel it falls in only)
    cy.pixel_filter_type = "BOX"
    cy.filter_width = 1.0
    scene.render.filter_size = 1.0

    scene.render.resolution_x = a.width
    scene.render.resolution_y = a.height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = 1.0
    scene.render.pixel_aspect_y = 1.0
    scene.render.use_border = False
    scene.render.film_transparent = False
    scene.render.use_motion_blur = False
    scene.render.use_persistent_data = False
    scene.render.threads_mode = "FIXED" if a.threads > 0 else "AUTO"
    if a.threads > 0:
        scene.render.threads = a.threads

    vs = scene.view_settings
    scene.display_settings.display_device = "sRGB"
    vs.view_transform = "Standard"
    vs.look = "None"
    vs.exposure = 0.0
    vs.gamma = 1.0
    vs.use_curve_mapping = False
    scene.sequencer_colorspace_settings.name = "sRGB"
    scene.render.dither_intensity = 0.0

    # world: black, strength 0
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is not None:
        bg.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
        bg.inputs["Strength"].default_value = 0.0
    world.color = (0.0, 0.0, 0.0)
    if a.environment:
        # Environment Texture (closest texel, as RenderFarm looks it up) behind a Mapping node turning it about Z;
        # Cycles importance-samples it (world MIS, its default).
        nodes = world.node_tree.nodes
        coords = nodes.new("ShaderNodeTexCoord")
        mapping = nodes.new("ShaderNodeMapping")
        mapping.vector_type = "POINT"
        mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(a.environment_rotation))
        texture = nodes.new("ShaderNodeTexEnvironment")
        texture.image = bpy.data.images.load(os.path.abspath(a.environment))
        texture.image.colorspace_settings.name = "Linear"
        texture.interpolation = "Closest"
        texture.projection = "EQUIRECTANGULAR"
        links = world.node_tree.links
        links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
        links.new(texture.outputs["Color"], bg.inputs["Color"])
        bg.inputs["Strength"].default_value = a.environment_strength

    scene.use_nodes = False                 # no compositor
    scene.render.use_compositing = False
    scene.render.use_sequencer = False

    img = scene.render.image_settings
    img.file_format = "PNG"
    img.color_mode = "RGB"
    img.color_depth = "8"
    img.compression = 15


def pick_camera(scene):
    cams = [ob for ob in scene.objects if ob.type == "CAMERA"]
    if not cams:
        raise SystemExit("cycles_render: the scene has no camera")
    if len(cams) > 1:
        print(f"cycles_render: {len(cams)} cameras, using the first: {cams[0].name}")
    scene.camera = cams[0]
    return cams[0]


def write_pfm(scene, a):
    """Saves the render result as 32-bit EXR (linear, no view transform), reads it back and writes PFM."""
    img = scene.render.image_settings
    img.file_format = "OPEN_EXR"
    img.color_mode = "RGB"
    img.color_depth = "32"
    pfm = os.path.abspath(a.pfm)
    exr = pfm + ".exr"
    bpy.data.images["Render Result"].save_render(exr, scene=scene)
    loaded = bpy.data.images.load(exr)
    w, h = loaded.size
    buf = numpy.empty(w * h * 4, dtype=numpy.float32)
    loaded.pixels.foreach_get(buf)
    rgb = buf.reshape(h, w, 4)[:, :, :3]      # Blender rows run bottom to top, as PFM's do
    with open(pfm, "wb") as f:
        f.write(b"PF\n%d %d\n-1.0\n" % (w, h))
        f.write(rgb.astype("<f4").tobytes())
    bpy.data.images.remove(loaded)
    os.remove(exr)


def main():
    a = parse_args()
    empty_scene()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.render.fps_base = 1.0

    bpy.ops.import_scene.gltf(filepath=os.path.abspath(a.scene))
    scene = bpy.context.scene
    cam = pick_camera(scene)
    configure(scene, a)
    # glTF punctual lights are points; Blender's importer leaves its 0.25 m default radius (soft shadows).
    for light in bpy.data.lights:
        light.shadow_soft_size = 0.0

    # glTF time t -> Blender frame t * fps (importer convention, see module docstring).
    t = (a.frame - 1) / RENDERFARM_FPS
    bframe = t * scene.render.fps
    whole = math.floor(bframe)
    scene.frame_set(int(whole), subframe=bframe - whole)

    if a.verbose:
        cd = cam.data
        print(f"cycles_render: camera {cam.name} type {cd.type} sensor_fit {cd.sensor_fit} "
              f"yfov {math.degrees(cd.angle_y):.3f} deg, world pos {tuple(round(v, 4) for v in cam.matrix_world.translation)}")
        for mat in bpy.data.materials:
            if mat.node_tree is None:
                continue
            for n in mat.node_tree.nodes:
                if n.type == "BSDF_PRINCIPLED":
                    e = tuple(n.inputs["Emission"].default_value)[:3]
                    s = n.inputs["Emission Strength"].default_value
                    print(f"cycles_render: material {mat.name} emission {tuple(round(v, 4) for v in e)} strength {s:g}")
        for ob in scene.objects:
            if ob.animation_data and ob.animation_data.action:
                loc = tuple(round(v, 4) for v in ob.matrix_world.translation)
                print(f"cycles_render: animated {ob.name} at blender frame {bframe:g} world(Z-up) {loc} "
                      f"= glTF {(loc[0], loc[2], -loc[1])}")

    out = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    scene.render.filepath = out
    scene.render.use_file_extension = False

    t0 = time.perf_counter()
    c0 = time.process_time()
    bpy.ops.render.render(write_still=True)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0

    if a.pfm:
        write_pfm(scene, a)

    print(f"cycles: frame {a.frame} {a.width}x{a.height} spp {a.spp} wall {wall:.3f}s cpu {cpu:.3f}s", flush=True)


if __name__ == "__main__":
    main()
