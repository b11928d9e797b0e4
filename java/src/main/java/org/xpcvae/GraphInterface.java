package org.xpcvae;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The check of an opened graph's interface against docs/sampling.md's (names, float32 type and
 * shapes of its inputs and outputs), so that a bundle whose graphs do not fit the sampler is refused
 * when it is opened, naming the graph, rather than failing in the middle of a run.
 */
final class GraphInterface {
    private GraphInterface() {
    }

    /** {@code name, shape, name, shape, ...} as an ordered map (-1: the batch dimension). */
    static Map<String, long[]> shapes(Object... nameShape) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameShape.length; i += 2) {
            m.put((String) nameShape[i], (long[]) nameShape[i + 1]);
        }
        return m;
    }

    /**
     * Checks that graph {@code role} of {@code bundle}, opened as {@code s}, has exactly the inputs
     * {@code in} and at least the outputs {@code out}, each a float32 tensor of the given shape with
     * a dynamic batch dimension first.
     *
     * @throws BundleException naming the graph file and what differs
     */
    static void check(ModelBundle bundle, OrtSession s, String role, Map<String, long[]> in,
                      Map<String, long[]> out) {
        String file = bundle.file(role).getFileName().toString();
        try {
            checkNodes(bundle, file, "input", s.getInputInfo(), in);
            checkNodes(bundle, file, "output", s.getOutputInfo(), out);
        } catch (OrtException e) {
            throw new BundleException("bundle " + bundle.directory() + ": " + file + ": cannot inspect graph: "
                    + e.getMessage(), e);
        }
    }

    private static void checkNodes(ModelBundle bundle, String file, String kind, Map<String, NodeInfo> actual,
                                   Map<String, long[]> expected) {
        String where = "bundle " + bundle.directory() + ": " + file;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            NodeInfo info = actual.get(e.getKey());
            if (info == null) {
                throw new BundleException(where + " has no " + kind + " '" + e.getKey() + "' (it has "
                        + actual.keySet() + ")");
            }
            if (!(info.getInfo() instanceof TensorInfo)) {
                throw new BundleException(where + ": " + kind + " '" + e.getKey() + "' is not a tensor");
            }
            TensorInfo t = (TensorInfo) info.getInfo();
            long[] shape = t.getShape();
            long[] want = e.getValue();
            boolean ok = t.type == OnnxJavaType.FLOAT && shape.length == want.length;
            for (int i = 0; ok && i < shape.length; i++) {
                ok = shape[i] == want[i] || (shape[i] < 0 && want[i] >= 0 && i > 0);
            }
            if (!ok) {
                throw new BundleException(where + ": " + kind + " '" + e.getKey() + "' is " + t.type + " "
                        + Arrays.toString(shape) + ", expected FLOAT " + Arrays.toString(want).replace("-1", "batch")
                        + " with a dynamic batch dimension");
            }
        }
        if (kind.equals("input") && actual.size() != expected.size()) {
            throw new BundleException(where + " has inputs " + actual.keySet() + ", expected " + expected.keySet());
        }
    }
}
