using System.Numerics;
using SharpGLTF.Animations;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>A scene posed at one time: what <see cref="GpuSceneBuilder"/> needs besides the scene itself.</summary>
/// <param name="World">World matrix of every node instance.</param>
/// <param name="MorphWeights">Morph target weights of every node instance (empty where its mesh has no targets).</param>
/// <param name="JointMatrices">Per skin, per joint: inverse bind matrix times the joint's world matrix.</param>
internal sealed record ScenePose(Matrix4x4[] World, float[][] MorphWeights, Matrix4x4[][] JointMatrices);

/// <summary>
/// The animation channels of a glTF file, evaluated per frame into node transforms, morph weights and joint matrices.
/// </summary>
/// <remarks>
/// Translation, rotation, scale and morph-weight channels of all animations play together (a later animation wins
/// when two drive the same property); each channel holds its first/last key outside its key range.
/// </remarks>
internal sealed class AnimationEvaluator
{
    private readonly Dictionary<int, NodeAnimation> _nodes;
    private readonly Dictionary<int, Track<float[]>> _weights;

    private AnimationEvaluator(Dictionary<int, NodeAnimation> nodes, Dictionary<int, Track<float[]>> weights, double duration)
    {
        _nodes = nodes;
        _weights = weights;
        DurationSeconds = duration;
    }

    /// <summary>The time of the last key of any channel, in seconds; 0 when nothing is animated.</summary>
    public double DurationSeconds { get; }

    /// <summary>Reads every animation channel of <paramref name="model"/> that targets a node.</summary>
    public static AnimationEvaluator Import(ModelRoot model)
    {
        var result = new Dictionary<int, NodeAnimation>();
        var weights = new Dictionary<int, Track<float[]>>();
        double duration = 0;
        foreach (Animation animation in model.LogicalAnimations)
        {
            foreach (AnimationChannel channel in animation.Channels)
            {
                if (channel.TargetNode is not Node node)
                {
                    continue;
                }

                NodeAnimation Target()
                {
                    if (!result.TryGetValue(node.LogicalIndex, out NodeAnimation? target))
                    {
                        target = new NodeAnimation(node.LocalTransform.GetDecomposed());
                        result.Add(node.LogicalIndex, target);
                    }

                    return target;
                }

                switch (channel.TargetNodePath)
                {
                    case PropertyPath.translation when Track.Create(channel.GetTranslationSampler()) is Track<Vector3> translation:
                        Target().Translation = translation;
                        duration = Math.Max(duration, translation.End);
                        break;
                    case PropertyPath.rotation when Track.Create(channel.GetRotationSampler()) is Track<Quaternion> rotation:
                        Target().Rotation = rotation;
                        duration = Math.Max(duration, rotation.End);
                        break;
                    case PropertyPath.scale when Track.Create(channel.GetScaleSampler()) is Track<Vector3> scale:
                        Target().Scale = scale;
                        duration = Math.Max(duration, scale.End);
                        break;
                    case PropertyPath.weights when Track.Create(channel.GetMorphSampler()) is Track<float[]> morph:
                        weights[node.LogicalIndex] = morph;
                        duration = Math.Max(duration, morph.End);
                        break;
                    default:
                        break;
                }
            }
        }

        return new AnimationEvaluator(result, weights, duration);
    }

    /// <summary>Poses <paramref name="scene"/> at <paramref name="time"/> seconds.</summary>
    public ScenePose Evaluate(SceneDescription scene, float time)
    {
        SceneNode[] nodes = scene.Nodes;
        Matrix4x4[] world = WorldMatrices(nodes, time);
        var morphWeights = new float[nodes.Length][];
        for (int i = 0; i < nodes.Length; i++)
        {
            float[] rest = nodes[i].MorphWeights;
            morphWeights[i] = rest.Length > 0 && _weights.TryGetValue(nodes[i].LogicalIndex, out Track<float[]>? track)
                ? Fit(track.Sample(time), rest.Length)
                : rest;
        }

        var jointMatrices = new Matrix4x4[scene.Skins.Length][];
        for (int s = 0; s < jointMatrices.Length; s++)
        {
            SkinInfo skin = scene.Skins[s];
            var matrices = new Matrix4x4[skin.Joints.Length];
            for (int j = 0; j < matrices.Length; j++)
            {
                // Row-vector convention: the inverse bind matrix takes a vertex into the joint's space first.
                matrices[j] = skin.InverseBindMatrices[j] * world[skin.Joints[j]];
            }

            jointMatrices[s] = matrices;
        }

        return new ScenePose(world, morphWeights, jointMatrices);
    }

    // A keyed weight list of another length than the mesh's targets is cut or padded with zeros; non-finite keys count as 0.
    private static float[] Fit(float[] sampled, int count)
    {
        var weights = new float[count];
        for (int i = 0; i < count && i < sampled.Length; i++)
        {
            weights[i] = float.IsFinite(sampled[i]) ? sampled[i] : 0;
        }

        return weights;
    }

    /// <summary>World matrices of every node instance of <paramref name="nodes"/> at <paramref name="time"/> seconds.</summary>
    public Matrix4x4[] WorldMatrices(SceneNode[] nodes, float time)
    {
        var world = new Matrix4x4[nodes.Length];
        for (int i = 0; i < nodes.Length; i++)
        {
            SceneNode node = nodes[i];
            Matrix4x4 local = _nodes.TryGetValue(node.LogicalIndex, out NodeAnimation? animation) ? animation.Evaluate(time) : node.Local;

            // Row-vector convention: a child's local transform applies before its parent's.
            world[i] = node.Parent < 0 ? local : local * world[node.Parent];
        }

        return world;
    }

    private sealed class NodeAnimation(SharpGLTF.Transforms.AffineTransform rest)
    {
        private readonly Vector3 _scale = rest.Scale;
        private readonly Quaternion _rotation = rest.Rotation;
        private readonly Vector3 _translation = rest.Translation;

        public Track<Vector3>? Translation { get; set; }

        public Track<Quaternion>? Rotation { get; set; }

        public Track<Vector3>? Scale { get; set; }

        public Matrix4x4 Evaluate(float time)
        {
            Vector3 scale = Scale?.Sample(time) ?? _scale;
            Quaternion rotation = Rotation?.Sample(time) ?? _rotation;
            Vector3 translation = Translation?.Sample(time) ?? _translation;
            return Matrix4x4.CreateScale(scale)
                * Matrix4x4.CreateFromQuaternion(Quaternion.Normalize(rotation))
                * Matrix4x4.CreateTranslation(translation);
        }
    }

    private static class Track
    {
        public static Track<T>? Create<T>(IAnimationSampler<T>? sampler)
        {
            if (sampler is null)
            {
                return null;
            }

            (float start, float end) = KeyRange(sampler);
            return start <= end ? new Track<T>(sampler.CreateCurveSampler(true), start, end) : null;
        }

        public static (float Start, float End) KeyRange<T>(IAnimationSampler<T> sampler)
        {
            float start = float.PositiveInfinity;
            float end = float.NegativeInfinity;
            if (sampler.InterpolationMode == AnimationInterpolationMode.CUBICSPLINE)
            {
                foreach ((float key, _) in sampler.GetCubicKeys())
                {
                    start = Math.Min(start, key);
                    end = Math.Max(end, key);
                }
            }
            else
            {
                foreach ((float key, _) in sampler.GetLinearKeys())
                {
                    start = Math.Min(start, key);
                    end = Math.Max(end, key);
                }
            }

            return (start, end);
        }
    }

    private sealed class Track<T>(ICurveSampler<T> sampler, float start, float end)
    {
        public float End => end;

        public T Sample(float time) => sampler.GetPoint(Math.Clamp(time, start, end));
    }
}
