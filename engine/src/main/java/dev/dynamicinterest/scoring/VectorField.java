package dev.dynamicinterest.scoring;

import org.apache.lucene.index.FieldInfo;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.VectorEncoding;
import org.elasticsearch.index.fielddata.IndexFieldData;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.index.mapper.vectors.DenseVectorFieldMapper.DenseVectorFieldType;
import org.elasticsearch.script.field.vectors.DenseVectorDocValuesField;
import org.elasticsearch.search.lookup.SearchLookup;
import org.elasticsearch.search.vectors.VectorData;

import java.io.IOException;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A dense_vector field that param vectors are compared with, resolved and checked once per shard. */
final class VectorField {
    /** The mapped dimension count as Elasticsearch words it in its dimension mismatch error. */
    private static final Pattern FIELD_DIMS = Pattern.compile("document vectors \\[(\\d+)\\]");

    private final String name;
    private final IndexFieldData<?> fieldData;
    private final VectorParam param;

    private VectorField(String name, IndexFieldData<?> fieldData, VectorParam param) {
        this.name = name;
        this.fieldData = fieldData;
        this.param = param;
    }

    /**
     * Checks {@code param} against the mapping of {@code field}; returns null when there is nothing to read:
     * no param, the field is not mapped on this index (the component is then 0), or the component is unused.
     */
    static VectorField resolve(SearchLookup lookup, String field, VectorParam param, boolean needed) {
        if (param == null) {
            return null;
        }
        MappedFieldType type = lookup.fieldType(field);
        if (type == null) {
            return null;
        }
        if (!(type instanceof DenseVectorFieldType vectorType)) {
            throw new IllegalArgumentException(
                param.name() + " is compared with field [" + field + "], which is [" + type.typeName() + "], not [dense_vector]"
            );
        }
        checkDims(vectorType, param);
        return needed ? new VectorField(field, lookup.getForField(type, MappedFieldType.FielddataOperation.SCRIPT), param) : null;
    }

    /**
     * Fails with a clear message when the param length differs from the mapped dimension count. The 8.19 field type
     * keeps its dimension count package-private; its public exact-kNN query builder checks it, so a probe vector of
     * the param's length is passed through it. Only indexed fields support that: others are checked per document.
     */
    private static void checkDims(DenseVectorFieldType type, VectorParam param) {
        if (type.isIndexed() == false) {
            return;
        }
        float[] probe = new float[param.length()];
        Arrays.fill(probe, 1f);
        try {
            type.createExactKnnQuery(VectorData.fromFloats(probe), null, null);
        } catch (IllegalArgumentException e) {
            String message = String.valueOf(e.getMessage());
            if (message.contains("dimensions") == false) {
                throw e;
            }
            Matcher dims = FIELD_DIMS.matcher(message);
            throw param.mismatch(type.name(), dims.find() ? dims.group(1) : "a different number of");
        }
    }

    VectorReader open(LeafReaderContext context) throws IOException {
        LeafReader reader = context.reader();
        FieldInfo info = reader.getFieldInfos().fieldInfo(name);
        if (info == null) {
            return VectorReader.MISSING;
        }
        if (info.getVectorDimension() > 0 && info.getVectorEncoding() == VectorEncoding.FLOAT32) {
            FloatVectorValues values = reader.getFloatVectorValues(name);
            return values == null ? VectorReader.MISSING : new KnnVectorReader(values, UnitVectors.check(reader, info));
        }
        DenseVectorDocValuesField field = (DenseVectorDocValuesField) fieldData.load(context).getScriptFieldFactory(name);
        return new FieldDataVectorReader(field, name, param);
    }
}
