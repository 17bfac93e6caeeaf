package dev.dynamicinterest.launcher;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilderFactory;
import org.apache.logging.log4j.core.config.builder.impl.BuiltConfiguration;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;

/**
 * Sends the node's logs to one file, so that stdout carries only the launcher's own lines
 * (a parent process reading stdout must not stall on a full pipe of log lines).
 */
final class FileLogging {
    private static final String PATTERN = "[%d{ISO8601}][%-5p][%c{1.}] %m%n";

    private FileLogging() {}

    static void configure(Settings settings, Path logFile) {
        LogConfigurator.configureWithoutConfig(settings); // Elasticsearch's own logging hooks
        ConfigurationBuilder<BuiltConfiguration> config = ConfigurationBuilderFactory.newConfigurationBuilder();
        config.add(
            config.newAppender("file", "File")
                .addAttribute("fileName", logFile.toString())
                .add(config.newLayout("PatternLayout").addAttribute("pattern", PATTERN))
        );
        config.add(config.newRootLogger(Level.INFO).add(config.newAppenderRef("file")));
        Configurator.reconfigure(config.build());
    }
}
