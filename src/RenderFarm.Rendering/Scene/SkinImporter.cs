using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>Reads the skins of the skinned node instances: their joints' instances and inverse bind matrices, checked.</summary>
internal static class SkinImporter
{
    /// <summary>One <see cref="SkinInfo"/> per entry of <paramref name="skinned"/>, in order.</summary>
    /// <exception cref="UserInputException">A skin is too large, a vertex names a joint it lacks, or a joint is outside the default scene.</exception>
    public static SkinInfo[] Import(List<(Node Node, int Instance)> skinned, List<SceneNode> nodes, Dictionary<int, int> instanceOf, string displayName)
    {
        var skins = new SkinInfo[skinned.Count];
        for (int s = 0; s < skins.Length; s++)
        {
            Skin skin = skinned[s].Node.Skin;
            int count = skin.JointsCount;
            if (count > SceneLimits.MaxJointsPerSkin)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' has a skin of {count} joints; the limit is {SceneLimits.MaxJointsPerSkin}."));
            }

            foreach (MeshPart part in nodes[skinned[s].Instance].Parts)
            {
                if (part.MaxJoint >= count)
                {
                    throw new UserInputException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{displayName}' is not a valid glTF file: a vertex names joint {part.MaxJoint} of skin {skin.LogicalIndex}, which has {count}."));
                }
            }

            IReadOnlyList<Node> joints = skin.Joints;
            IReadOnlyList<Matrix4x4> inverseBind = skin.InverseBindMatrices;
            var jointInstances = new int[count];
            var matrices = new Matrix4x4[count];
            for (int j = 0; j < count; j++)
            {
                // A joint outside the default scene has no pose this renderer evaluates.
                if (!instanceOf.TryGetValue(joints[j].LogicalIndex, out jointInstances[j]))
                {
                    throw new UserInputException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{displayName}': joint {j} of skin {skin.LogicalIndex} (node {joints[j].LogicalIndex}) is not in the default scene, so the skin cannot be posed."));
                }

                matrices[j] = j < inverseBind.Count ? inverseBind[j] : Matrix4x4.Identity;
            }

            skins[s] = new SkinInfo(jointInstances, matrices);
        }

        return skins;
    }
}
