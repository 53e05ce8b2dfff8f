"""The word lists of the SOMD demo generator (:mod:`.demo`), written for this project: each template slot of
:mod:`.demo` draws from one of them."""
from __future__ import annotations

__all__ = ["APPS", "APP_PARTS", "PLUGINS", "PLUGIN_PARTS", "ENVS", "OSES", "DEVS", "PLACES", "LICENSES",
           "EXTENSIONS", "ABBREVIATED", "ALIASES", "COREFS", "AUTHORS", "TOPICS", "STATS", "NAME_ENDINGS",
           "PREFIXES", "FILLERS"]

# Sentences in the style of methods sections, written for this project. ``{SLOT}``s are filled from the
# lexicons below; each slot gives words and the entity type of the span (None for plain words). The
# lexicons mix well-known names (frequent) with made-up ones (rare), so a model must use context to find
# the names it has not seen, as on the real task; the negative sentences hold look-alikes ("excel",
# "prism", "R 2", "version 2 of the questionnaire", "[ 12 ]") that a word list mislabels.
APPS = ["SPSS", "Stata", "ImageJ", "Fiji", "GraphPad Prism", "Microsoft Excel", "Excel", "NVivo", "Cytoscape",
         "FlowJo", "Geneious", "Imaris", "CellProfiler", "PyMOL", "MEGA", "Clustal Omega", "MAFFT", "Bowtie2",
         "HISAT2", "Cufflinks", "SAMtools", "BEAST", "RAxML", "MaxQuant", "Skyline", "Trimmomatic", "FastQC",
         "STAR", "Image Lab", "ZEN", "Mplus", "AMOS", "LIWC", "Praat", "E-Prime", "PsychoPy", "Qualtrics",
         "REDCap", "EndNote", "ArcGIS", "QGIS", "Gaussian", "GROMACS", "AutoDock Vina", "Chimera", "Prism"]
APP_PARTS = (["Gen", "Bio", "Cell", "Seq", "Stat", "Morph", "Prot", "Neuro", "Geo", "Chem", "Flow", "Phylo",
               "Mass", "Net", "Clust", "Spectra", "Lipid", "Voxel", "Meta", "Trans"],
              ["Lab", "Kit", "Tools", "Suite", "Pro", "Map", "View", "Finder", "Miner", "Scope", "Quant",
               "Plot", "Track", "Align", "Sim", "Works", "Fold", "Sort"])
PLUGINS = ["lme4", "ggplot2", "DESeq2", "edgeR", "limma", "survival", "vegan", "nlme", "Seurat", "scikit-learn",
            "NumPy", "pandas", "SciPy", "statsmodels", "Biopython", "TensorFlow", "Keras", "PyTorch",
            "metafor", "lavaan", "caret", "randomForest", "glmnet", "igraph", "NetworkX", "matplotlib",
            "Bioconductor", "MorphoJ", "TrackMate", "Bio-Formats"]
PLUGIN_PARTS = (["py", "r", "sc", "bio", "geo", "deep", "fast", "meta", "multi", "phylo", "lm", "gg"],
                 ["seq", "stats", "fit", "tree", "plot", "clust", "omics", "net", "map", "mix", "boost", "bayes"])
ENVS = ["R", "Python", "MATLAB", "Perl", "Julia", "Java", "C++", "SAS", "Mathematica", "Octave", "Ruby"]
OSES = ["Windows", "Linux", "macOS", "Ubuntu", "CentOS", "Debian", "Mac OS X"]
DEVS = ["IBM", "IBM Corp.", "StataCorp", "GraphPad Software", "Microsoft", "MathWorks", "The MathWorks Inc.",
         "SAS Institute", "QSR International", "Bitplane", "Carl Zeiss", "Bio-Rad", "Schrodinger", "Esri",
         "Tree Star", "R Core Team", "Python Software Foundation", "Adobe", "Thermo Fisher Scientific",
         "Leica Microsystems", "Biomatters", "Wolfram Research"]
PLACES = ["Armonk , NY , USA", "College Station , TX , USA", "San Diego , CA , USA", "Natick , MA , USA",
           "Cary , NC , USA", "Redmond , WA , USA", "Zurich , Switzerland", "Jena , Germany",
           "Hercules , CA , USA", "Melbourne , Australia", "Vienna , Austria"]
LICENSES = ["GPL", "GPLv3", "MIT", "BSD", "Apache License", "GNU General Public License", "LGPL",
             "Creative Commons"]
EXTENSIONS = ["SE", "MP", "Pro", "Professional", "Premium", "Enterprise", "Desktop", "Server"]
ABBREVIATED = [("Statistical Package for the Social Sciences", "SPSS"), ("Gene Set Enrichment Analysis", "GSEA"),
                ("Molecular Evolutionary Genetics Analysis", "MEGA"), ("Integrative Genomics Viewer", "IGV"),
                ("Basic Local Alignment Search Tool", "BLAST"), ("Genome Analysis Toolkit", "GATK"),
                ("Linguistic Inquiry and Word Count", "LIWC"), ("Geographic Information System", "GIS"),
                ("Database for Annotation , Visualization and Integrated Discovery", "DAVID")]
ALIASES = [("Fiji", "ImageJ2"), ("Prism", "GraphPad"), ("SPSS", "PASW Statistics"), ("Excel", "MS Excel"),
            ("R", "GNU S"), ("QGIS", "Quantum GIS"), ("PyMOL", "Molecular Graphics System")]
COREFS = ["software", "program", "tool", "package", "toolbox", "script", "application", "pipeline"]
AUTHORS = ["Smith", "Schneider", "Langmead", "Love", "Bates", "Wickham", "Kim", "Ritchie", "Li", "Dobin",
            "Tamura", "Katoh", "Stamatakis", "Pedregosa", "Virtanen", "Cox", "Bolger", "Shannon", "Carpenter"]
TOPICS = ["cell counts", "reaction times", "survey responses", "gene expression", "protein abundance",
           "blood pressure", "species richness", "interview transcripts", "fluorescence intensity",
           "sequencing reads", "growth curves", "questionnaire scores", "tumour volumes", "soil samples",
           "mass spectra", "behavioural data", "patient records", "eye movements", "lesion sizes"]
STATS = ["linear mixed models", "one-way ANOVA", "logistic regression", "the Mann-Whitney U test",
          "Cox regression", "principal component analysis", "hierarchical clustering", "paired t-tests",
          "structural equation models", "random forests", "Kaplan-Meier curves", "the chi-square test"]
NAME_ENDINGS = ["", "", "", "", "2", "3D", "-X", "Plus", "R", "X", "-seq", "DB", "Lite", "NG"]
PREFIXES = [
    "In the second experiment ,", "To test our main hypothesis ,", "For the validation cohort ,",
    "Following quality control of the raw data ,", "In line with the preregistered analysis plan ,",
    "Unless otherwise noted ,", "For both the discovery and the replication samples ,",
    "After the pilot study had been completed ,", "At each of the four time points ,",
]
FILLERS = [
    "after excluding participants with missing data", "as described in the supplementary methods",
    "with a significance level of 0.05 for all comparisons", "following the protocol of the original study",
    "separately for each treatment group and time point", "after normalisation to the housekeeping genes",
    "blind to the experimental condition of each sample", "using the default parameters unless stated otherwise",
    "and all images were acquired with identical exposure settings across the three independent experiments",
    "where outliers beyond three standard deviations from the mean were removed before the analysis",
]
