"""RenderFarm for Blender: submit the scene to a RenderFarm coordinator and bring its verified frames back.

Render Properties > RenderFarm: the coordinator, the account's API key file, and the frame range, size and samples
taken from the scene. Submit exports the scene to GLB (export.py: frame <-> glTF time from frame_start and fps,
modifiers applied, images embedded), lists what glTF cannot carry, uploads it, submits the job, shows its progress
and writes every verified frame to the scene's output path, named by the scene's own frame numbers.
"""

import os
import tempfile
import threading
import time

import bpy

from . import client, export

bl_info = {
    "name": "RenderFarm",
    "author": "RenderFarm",
    "version": (1, 0, 0),
    "blender": (3, 4, 0),
    "location": "Properties > Render > RenderFarm",
    "description": "Render the scene's frames on a RenderFarm coordinator and bring the verified frames back",
    "category": "Render",
}

POLL_SECONDS = 0.5

# The job the panel follows: written by the worker thread, read by the panel's timer on Blender's main thread.
_state = {"running": False, "message": "", "job": None, "page": None, "done": 0, "total": 0, "error": None, "warnings": [], "cancel": False}
_lock = threading.Lock()


def _set(**values):
    with _lock:
        _state.update(values)


def _get(name):
    with _lock:
        return _state[name]


class RenderFarmSettings(bpy.types.PropertyGroup):
    coordinator: bpy.props.StringProperty(
        name="Coordinator", description="The coordinator's address, e.g. http://127.0.0.1:5080 (default: RENDERFARM_COORDINATOR)", default="")
    api_key_file: bpy.props.StringProperty(
        name="API key file", description="A file holding the account's API key (rfk_...); default: RENDERFARM_API_KEY", subtype="FILE_PATH", default="")
    samples: bpy.props.IntProperty(
        name="Samples", description="Samples per pixel on the farm; 0 takes the scene's Cycles render samples", default=0, min=0, max=65536)
    priority: bpy.props.IntProperty(name="Priority", description="Queue priority, higher first", default=0, min=-10, max=10)


def scene_samples(scene):
    settings = scene.renderfarm
    if settings.samples > 0:
        return settings.samples
    if hasattr(scene, "cycles"):
        return int(scene.cycles.samples)
    return int(scene.eevee.taa_render_samples)


def scene_size(scene):
    scale = scene.render.resolution_percentage / 100
    return max(1, int(scene.render.resolution_x * scale)), max(1, int(scene.render.resolution_y * scale))


def farm_frames(scene):
    """The scene's frame range as farm frames: the farm's frame 1 is the scene's frame_start."""
    if scene.frame_end < scene.frame_start:
        raise client.FarmError(f"the scene's frame range {scene.frame_start}-{scene.frame_end} is empty")
    last = scene.frame_end - scene.frame_start + 1
    text = f"1-{last}" if last > 1 else "1"
    if scene.frame_step > 1 and last > 1:
        text += f"x{scene.frame_step}"
    return text


def frame_output_path(scene, farm_frame):
    """Where a farm frame goes: the scene's output path for its own frame number, as a PNG."""
    path = bpy.path.abspath(scene.render.frame_path(frame=scene.frame_start + farm_frame - 1))
    return os.path.splitext(path)[0] + ".png"


def background(scene):
    """The world's colour as a uniform background (R,G,B linear); the farm has no world shader."""
    world = scene.world
    if world is None:
        return "0"
    if world.use_nodes and world.node_tree is not None:
        for node in world.node_tree.nodes:
            if node.type == "BACKGROUND" and not node.inputs[0].is_linked and not node.inputs[1].is_linked:
                colour, strength = node.inputs[0].default_value, node.inputs[1].default_value
                return ",".join(f"{max(0.0, c * strength):.6g}" for c in colour[:3])
        return "0"
    return ",".join(f"{c:.6g}" for c in world.color[:3])


def job_request(scene, scene_sha256):
    width, height = scene_size(scene)
    return {
        "sceneSha256": scene_sha256,
        "frames": farm_frames(scene),
        "size": f"{width}x{height}",
        "samplesPerPixel": scene_samples(scene),
        "framesPerSecond": export.fps_of(scene),
        "toneMapping": {"Standard": "clamp", "Filmic": "filmic"}.get(scene.view_settings.view_transform, "aces"),
        "exposureStops": float(scene.view_settings.exposure),
        "background": background(scene),
        "priority": scene.renderfarm.priority,
    }


def run_job(coordinator, glb_path, request, output_paths):
    """Uploads, submits, follows and downloads; runs on a worker thread (or inline when waiting)."""
    try:
        _set(message="uploading the scene")
        scene = coordinator.upload_scene(glb_path)
        job = coordinator.submit(dict(request, sceneSha256=scene["sha256"]))
        _set(job=job["id"], page=coordinator.job_page(job["id"]), total=0, message=f"job {job['id']} submitted")
        if job.get("warning"):
            _set(warnings=_get("warnings") + [job["warning"]])
        downloaded = set()
        while True:
            if _get("cancel"):
                coordinator.cancel(job["id"])
                _set(message=f"job {job['id']} cancelled")
                return
            details = coordinator.job(job["id"])
            links = [link for task in details["tasks"] for link in task["frames"]]
            for link in links:
                if link["frame"] not in downloaded:
                    coordinator.download_frame(link, output_paths(link["frame"]))
                    downloaded.add(link["frame"])
            total = sum(task["lastFrame"] - task["firstFrame"] + 1 for task in details["tasks"])
            state = details["job"]["state"]
            _set(done=len(downloaded), total=total, message=f"job {job['id']}: {state}, {len(downloaded)}/{total} frames")
            if state == "Completed":
                return
            if state in ("Failed", "Cancelled"):
                raise client.FarmError(f"job {job['id']} {state.lower()}: {details['job'].get('error') or ''}".strip())
            time.sleep(POLL_SECONDS)
    except client.FarmError as error:
        _set(error=str(error), message=str(error))
    finally:
        _set(running=False)
        try:
            os.remove(glb_path)
            os.rmdir(os.path.dirname(glb_path))
        except OSError:
            pass


def _redraw():
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PROPERTIES":
                area.tag_redraw()
    return POLL_SECONDS if _get("running") else None


class RENDERFARM_OT_submit(bpy.types.Operator):
    """Export the scene to GLB, submit it to the coordinator and bring the verified frames into the output path"""

    bl_idname = "renderfarm.submit"
    bl_label = "Submit to RenderFarm"

    wait: bpy.props.BoolProperty(name="Wait", description="Block until the job ends (for scripts and background mode)", default=False, options={"SKIP_SAVE"})

    def execute(self, context):
        if _get("running"):
            self.report({"ERROR"}, "A RenderFarm job is already being followed")
            return {"CANCELLED"}
        scene = context.scene
        settings = scene.renderfarm
        try:
            coordinator = client.Coordinator(
                settings.coordinator or os.environ.get("RENDERFARM_COORDINATOR") or client.read_config().get("coordinator") or "",
                client.read_api_key(bpy.path.abspath(settings.api_key_file) if settings.api_key_file else None))
            folder = tempfile.mkdtemp(prefix="renderfarm-")
            name = bpy.path.clean_name(bpy.path.display_name_from_filepath(bpy.data.filepath) or scene.name) + ".glb"
            current = scene.frame_current
            try:
                manifest = export.export(os.path.join(folder, name), scene)
            finally:
                scene.frame_set(current)
            request = job_request(scene, "")
        except (client.FarmError, RuntimeError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}

        for warning in manifest["warnings"]:
            self.report({"WARNING"}, warning)
        if not manifest["animated"] and scene.frame_end > scene.frame_start:
            manifest["warnings"].append("the scene has no animation: every frame will be the same picture")
        _set(running=True, cancel=False, error=None, job=None, page=None, done=0, total=0, warnings=list(manifest["warnings"]), message="exporting")
        paths = {}

        def output_path(farm_frame):
            if farm_frame not in paths:
                paths[farm_frame] = frame_output_path(scene, farm_frame)
            return paths[farm_frame]

        # Output paths are worked out here, on Blender's thread, for every frame the job may deliver.
        last = scene.frame_end - scene.frame_start + 1
        for farm_frame in range(1, last + 1):
            output_path(farm_frame)
        glb = os.path.join(folder, name)
        if self.wait:
            run_job(coordinator, glb, request, paths.__getitem__)
            if _get("error"):
                self.report({"ERROR"}, _get("error"))
                return {"CANCELLED"}
            self.report({"INFO"}, f"{_get('done')} frame(s) of job {_get('job')} in {os.path.dirname(paths[1]) or '.'}")
            return {"FINISHED"}

        threading.Thread(target=run_job, args=(coordinator, glb, request, paths.__getitem__), daemon=True).start()
        bpy.app.timers.register(_redraw, first_interval=POLL_SECONDS)
        return {"FINISHED"}


class RENDERFARM_OT_cancel(bpy.types.Operator):
    """Cancel the job being followed on the farm"""

    bl_idname = "renderfarm.cancel"
    bl_label = "Cancel RenderFarm Job"

    def execute(self, context):
        _set(cancel=True)
        return {"FINISHED"}


class RENDER_PT_renderfarm(bpy.types.Panel):
    bl_label = "RenderFarm"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        settings = scene.renderfarm
        layout.prop(settings, "coordinator")
        layout.prop(settings, "api_key_file")
        column = layout.column(align=True)
        width, height = scene_size(scene)
        column.label(text=f"Frames {scene.frame_start}-{scene.frame_end}" + (f" step {scene.frame_step}" if scene.frame_step > 1 else "") + f" at {export.fps_of(scene):.3g} fps")
        column.label(text=f"Size {width}x{height}, {scene_samples(scene)} samples")
        column.label(text=f"Output {bpy.path.abspath(scene.render.filepath) or '(none)'}")
        layout.prop(settings, "samples")
        layout.prop(settings, "priority")
        if _get("running"):
            layout.label(text=_get("message"))
            if _get("total"):
                layout.label(text=f"{_get('done')}/{_get('total')} frames verified and downloaded")
            layout.operator("renderfarm.cancel", icon="CANCEL")
        else:
            layout.operator("renderfarm.submit", icon="RENDER_ANIMATION")
            if _get("message"):
                layout.label(text=_get("message"), icon="ERROR" if _get("error") else "INFO")
        if _get("page"):
            layout.label(text=_get("page"))
        for warning in _get("warnings"):
            layout.label(text=warning, icon="ERROR")


_classes = (RenderFarmSettings, RENDERFARM_OT_submit, RENDERFARM_OT_cancel, RENDER_PT_renderfarm)


def register():
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.renderfarm = bpy.props.PointerProperty(type=RenderFarmSettings)


def unregister():
    del bpy.types.Scene.renderfarm
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
