package dev.dynamicinterest.scoring;

import org.elasticsearch.script.ScoreScript;
import org.elasticsearch.script.ScriptContext;
import org.elasticsearch.script.ScriptEngine;

import java.util.Map;
import java.util.Set;

/** The native script language {@code interest}: its only source is {@code blend}, for {@code script_score}. */
final class InterestScriptEngine implements ScriptEngine {
    static final String LANG = "interest";
    static final String BLEND = "blend";

    @Override
    public String getType() {
        return LANG;
    }

    @Override
    public <T> T compile(String name, String source, ScriptContext<T> context, Map<String, String> options) {
        if (context.equals(ScoreScript.CONTEXT) == false) {
            throw new IllegalArgumentException(
                "[" + LANG + "] scripts only serve the [" + ScoreScript.CONTEXT.name + "] context, not [" + context.name + "]"
            );
        }
        if (BLEND.equals(source) == false) {
            throw new IllegalArgumentException("unknown [" + LANG + "] script source [" + source + "]; valid sources: [" + BLEND + "]");
        }
        return context.factoryClazz.cast(new BlendScriptFactory());
    }

    @Override
    public Set<ScriptContext<?>> getSupportedContexts() {
        return Set.of(ScoreScript.CONTEXT);
    }
}
