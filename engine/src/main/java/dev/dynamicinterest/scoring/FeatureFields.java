package dev.dynamicinterest.scoring;

import org.apache.lucene.index.LeafReaderContext;
import org.elasticsearch.index.fielddata.IndexFieldData;
import org.elasticsearch.index.fielddata.IndexNumericFieldData;
import org.elasticsearch.index.fielddata.IndexNumericFieldData.NumericType;
import org.elasticsearch.index.fielddata.IndexOrdinalsFieldData;
import org.elasticsearch.index.mapper.MappedFieldType;
import org.elasticsearch.search.lookup.SearchLookup;

import java.io.IOException;
import java.util.Map;

/**
 * The mapped fields the blend reads, resolved and validated when the query is built on a shard:
 * a mapping that does not fit the params fails every shard alike, which Elasticsearch answers with HTTP 400,
 * instead of failing only the shards that hold documents. Unmapped fields score 0.
 */
final class FeatureFields {
    private final VectorField item;
    private final VectorField collab;
    private final IndexNumericFieldData createdAt;
    private final IndexNumericFieldData popularity;
    private final IndexOrdinalsFieldData category;
    private final Map<String, Double> affinity;
    private final IndexOrdinalsFieldData id;
    private final Map<String, Double> neighbourScores;

    private FeatureFields(
        VectorField item,
        VectorField collab,
        IndexNumericFieldData createdAt,
        IndexNumericFieldData popularity,
        IndexOrdinalsFieldData category,
        Map<String, Double> affinity,
        IndexOrdinalsFieldData id,
        Map<String, Double> neighbourScores
    ) {
        this.item = item;
        this.collab = collab;
        this.createdAt = createdAt;
        this.popularity = popularity;
        this.category = category;
        this.affinity = affinity;
        this.id = id;
        this.neighbourScores = neighbourScores;
    }

    static FeatureFields resolve(BlendScorer scorer, SearchLookup lookup) {
        BlendParams p = scorer.params();
        return new FeatureFields(
            VectorField.resolve(lookup, p.vectorField(), p.itemVectorParam(), scorer.needsItemVector()),
            VectorField.resolve(lookup, p.collabField(), p.collabVectorParam(), scorer.needsCollabVector()),
            scorer.needsCreatedAt() ? dateField(lookup, p.freshnessField()) : null,
            scorer.needsPopularity() ? numericField(lookup, "popularity_field", p.popularityField()) : null,
            scorer.needsCategory() ? keywordField(lookup, "category_field", p.categoryField()) : null,
            p.categoryAffinity(),
            scorer.needsNeighbours() ? keywordField(lookup, "id_field", p.idField()) : null,
            p.neighbourScores()
        );
    }

    LeafFeatureReader open(LeafReaderContext context) throws IOException {
        return new LeafFeatureReader(
            item == null ? null : item.open(context),
            collab == null ? null : collab.open(context),
            createdAt == null ? null : createdAt.load(context).getLongValues(),
            popularity == null ? null : popularity.load(context).getDoubleValues(),
            category == null ? null : KeywordValueReader.open(category.load(context).getOrdinalsValues(), affinity),
            id == null ? null : KeywordValueReader.open(id.load(context).getOrdinalsValues(), neighbourScores)
        );
    }

    private static IndexNumericFieldData dateField(SearchLookup lookup, String field) {
        IndexFieldData<?> data = fieldData(lookup, field);
        if (data == null
            || data instanceof IndexNumericFieldData n
                && (n.getNumericType() == NumericType.DATE || n.getNumericType() == NumericType.DATE_NANOSECONDS)) {
            return (IndexNumericFieldData) data;
        }
        throw wrongType("freshness_field", field, lookup, "date");
    }

    private static IndexNumericFieldData numericField(SearchLookup lookup, String param, String field) {
        IndexFieldData<?> data = fieldData(lookup, field);
        if (data == null || data instanceof IndexNumericFieldData) {
            return (IndexNumericFieldData) data;
        }
        throw wrongType(param, field, lookup, "numeric");
    }

    private static IndexOrdinalsFieldData keywordField(SearchLookup lookup, String param, String field) {
        IndexFieldData<?> data = fieldData(lookup, field);
        if (data == null || data instanceof IndexOrdinalsFieldData) {
            return (IndexOrdinalsFieldData) data;
        }
        throw wrongType(param, field, lookup, "keyword");
    }

    /** The field's doc values access, or null when the field is not mapped. */
    private static IndexFieldData<?> fieldData(SearchLookup lookup, String field) {
        MappedFieldType type = lookup.fieldType(field);
        return type == null ? null : lookup.getForField(type, MappedFieldType.FielddataOperation.SCRIPT);
    }

    private static IllegalArgumentException wrongType(String param, String field, SearchLookup lookup, String expected) {
        return new IllegalArgumentException(
            param + " [" + field + "] must be a " + expected + " field but is [" + lookup.fieldType(field).typeName() + "]"
        );
    }
}
