"""Exports a Blender scene to a GLB the farm renders as Blender would.

Shared by the add-on (run inside Blender on a saved copy of the open file) and by ``renderfarm render
scene.blend`` (run as ``blender -b FILE --python export.py -- --out scene.glb --manifest manifest.json``).

Rules:
- frame <-> glTF time: Blender's exporter writes frame F at F / fps; the farm's frame 1 is at time 0 and
  frame N at (N - 1) / fps. The export bakes the animation over the scene's frame range and moves every time
  by -frame_start / fps, so Blender frame F is farm frame F - frame_start + 1.
- modifiers are applied, images are embedded in the GLB (packed ones too), cameras and lights go along.
- what glTF cannot carry is listed as warnings (Blender-only shader nodes, volumes, particles, area lights,
  compositing, depth of field, motion blur).
"""

import json
import struct
import sys

import bpy

# Shader nodes the glTF exporter turns into glTF materials; anything else is lost.
GLTF_NODES = {
    "BSDF_PRINCIPLED", "OUTPUT_MATERIAL", "TEX_IMAGE", "NORMAL_MAP", "EMISSION", "SEPRGB", "SEPARATE_COLOR",
    "MAPPING", "UVMAP", "TEX_COORD", "MIX_SHADER", "BSDF_TRANSPARENT", "ADD_SHADER", "VALUE", "RGB",
    "REROUTE", "FRAME", "GROUP_INPUT", "GROUP_OUTPUT", "SEPXYZ", "SEPARATE_XYZ", "VERTEX_COLOR", "ATTRIBUTE",
    "MATH", "MIX_RGB", "MIX", "BSDF_DIFFUSE", "BSDF_GLOSSY", "EEVEE_SPECULAR",
}


def fps_of(scene):
    return scene.render.fps / scene.render.fps_base


def warnings_for(scene):
    """Everything in the scene that the GLB will not carry, one line each."""
    found = []
    seen_materials = set()
    for obj in scene.objects:
        if obj.type == "VOLUME":
            found.append(f"object '{obj.name}' is a volume; glTF carries no volumes, so it is left out.")
        if getattr(obj, "particle_systems", None) and len(obj.particle_systems) > 0:
            found.append(f"object '{obj.name}' has particle systems; glTF carries no particles (make them real geometry first).")
        if obj.type == "LIGHT" and obj.data.type == "AREA":
            found.append(f"light '{obj.name}' is an area light; glTF lights are points, spots and suns, so it becomes a point light.")
        for modifier in getattr(obj, "modifiers", []):
            if not modifier.show_render:
                continue
            if modifier.type in {"PARTICLE_SYSTEM", "PARTICLE_INSTANCE", "FLUID", "CLOTH", "SOFT_BODY", "DYNAMIC_PAINT", "OCEAN"}:
                found.append(f"object '{obj.name}' has a {modifier.type.lower()} modifier whose simulation glTF cannot carry; only its current shape is exported.")
        for slot in getattr(obj, "material_slots", []):
            material = slot.material
            if material is None or material.name in seen_materials:
                continue
            seen_materials.add(material.name)
            if not material.use_nodes or material.node_tree is None:
                continue
            foreign = sorted({node.bl_idname for node in material.node_tree.nodes if node.type not in GLTF_NODES})
            if foreign:
                found.append(f"material '{material.name}' uses Blender-only shader nodes ({', '.join(foreign)}); glTF keeps only what a Principled BSDF with image textures says.")
            output = material.node_tree.get_output_node("ALL") or material.node_tree.get_output_node("CYCLES")
            if output is not None and output.inputs.get("Volume") is not None and output.inputs["Volume"].is_linked:
                found.append(f"material '{material.name}' has a volume shader; glTF carries no volumes.")
    if scene.use_nodes:
        found.append("the scene uses compositing nodes; the farm renders the plain image without them.")
    if scene.render.use_motion_blur:
        found.append("motion blur is on; the farm renders without it.")
    if scene.camera is not None and scene.camera.type == "CAMERA" and scene.camera.data.dof.use_dof:
        found.append(f"camera '{scene.camera.name}' uses depth of field; the farm renders without it.")
    if scene.world is not None and scene.world.use_nodes:
        found.append("the world shader is not exported; give the farm a uniform background (--background) if the scene needs one.")
    return found


def shift_animation_times(glb_path, seconds):
    """Moves every animation time of a GLB by -seconds (times start at the scene's first frame)."""
    with open(glb_path, "rb") as file:
        data = bytearray(file.read())
    magic, version, _ = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2:
        raise RuntimeError(f"{glb_path} is not a GLB 2.0 file")
    json_length, json_type = struct.unpack_from("<II", data, 12)
    gltf = json.loads(data[20:20 + json_length].decode("utf-8"))
    rest = data[20 + json_length:]
    binary = None
    if len(rest) >= 8:
        bin_length, bin_type = struct.unpack_from("<II", rest, 0)
        binary = bytearray(rest[8:8 + bin_length])
    inputs = {sampler["input"] for animation in gltf.get("animations", []) for sampler in animation["samplers"]}
    for index in sorted(inputs):
        accessor = gltf["accessors"][index]
        if accessor.get("componentType") != 5126 or accessor.get("type") != "SCALAR" or "sparse" in accessor:
            raise RuntimeError(f"animation input accessor {index} is not a plain float list")
        view = gltf["bufferViews"][accessor["bufferView"]]
        offset = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
        stride = view.get("byteStride", 4)
        values = []
        for item in range(accessor["count"]):
            position = offset + item * stride
            value = max(0.0, struct.unpack_from("<f", binary, position)[0] - seconds)
            struct.pack_into("<f", binary, position, value)
            values.append(struct.unpack_from("<f", binary, position)[0])
        if values:
            accessor["min"] = [min(values)]
            accessor["max"] = [max(values)]
    encoded = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((4 - len(encoded) % 4) % 4)
    out = bytearray(struct.pack("<4sII", b"glTF", 2, 0))
    out += struct.pack("<II", len(encoded), 0x4E4F534A) + encoded
    if binary is not None:
        binary += b"\0" * ((4 - len(binary) % 4) % 4)
        out += struct.pack("<II", len(binary), 0x004E4942) + binary
    struct.pack_into("<I", out, 8, len(out))
    with open(glb_path, "wb") as file:
        file.write(out)


def export(glb_path, scene=None):
    """Exports the scene to glb_path and returns the manifest: frame range, fps, warnings."""
    scene = scene or bpy.context.scene
    if bpy.context.window is not None and bpy.context.window.scene is not scene:
        bpy.context.window.scene = scene
    fps = fps_of(scene)
    animated = any(
        obj.animation_data is not None and (obj.animation_data.action is not None or len(obj.animation_data.nla_tracks) > 0)
        for obj in scene.objects)
    options = dict(
        filepath=glb_path,
        export_format="GLB",
        export_apply=True,
        export_cameras=True,
        export_lights=True,
        export_image_format="AUTO",
        export_yup=True,
        use_selection=False,
        export_animations=animated,
    )
    if animated:
        options.update(export_frame_range=True, export_force_sampling=True, export_current_frame=False)
    scene.frame_set(scene.frame_start)
    bpy.ops.export_scene.gltf(**options)
    if animated:
        shift_animation_times(glb_path, scene.frame_start / fps)
    return {
        "blenderVersion": bpy.app.version_string,
        "frameStart": scene.frame_start,
        "frameEnd": scene.frame_end,
        "frameStep": scene.frame_step,
        "framesPerSecond": fps,
        "animated": animated,
        "width": scene.render.resolution_x * scene.render.resolution_percentage // 100,
        "height": scene.render.resolution_y * scene.render.resolution_percentage // 100,
        "samples": scene.cycles.samples if hasattr(scene, "cycles") else None,
        "outputPath": bpy.path.abspath(scene.render.filepath),
        "warnings": warnings_for(scene),
    }


def main(argv):
    arguments = argv[argv.index("--") + 1:] if "--" in argv else []
    named = dict(zip(arguments[::2], arguments[1::2]))
    manifest = export(named["--out"])
    with open(named["--manifest"], "w", encoding="utf-8") as file:
        json.dump(manifest, file)


if __name__ == "__main__":
    main(sys.argv)
